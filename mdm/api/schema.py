"""OpenAPI extensions: describe the hub's bearer tokens to drf-spectacular."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mdm.api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token (`mdm_<key id>_<secret>`), issued by an admin with scopes: "
                           "read:<entity_type>|read:*, write:<source>, match:<entity_type>, tasks, admin.",
        }
