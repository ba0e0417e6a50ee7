"""Write paths of the hub. Views, API views, admin actions, commands and tasks call these."""
