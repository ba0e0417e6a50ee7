from django.contrib.auth import views as auth_views
from django.urls import path

from stewardship.views import bulk, dashboard, golden, queue, rules, tasks, uploads

app_name = "stewardship"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=False), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", dashboard.home, name="home"),
    # the work queue and its tasks
    path("queue/", queue.queue, name="queue"),
    path("queue/next/", tasks.queue_next, name="queue_next"),
    path("queue/bulk-accept/", bulk.bulk_accept_view, name="bulk_accept"),
    path("bulk/<int:pk>/", bulk.bulk_detail, name="bulk"),
    path("bulk/<int:pk>/undo/", bulk.bulk_undo, name="bulk_undo"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task"),
    path("tasks/<int:pk>/merge/", tasks.task_merge, name="task_merge"),
    path("tasks/<int:pk>/not-a-match/", tasks.task_not_a_match, name="task_not_a_match"),
    path("tasks/<int:pk>/skip/", tasks.task_skip, name="task_skip"),
    path("tasks/<int:pk>/resolve/", tasks.task_resolve, name="task_resolve"),
    path("tasks/<int:pk>/close/", tasks.task_close, name="task_close"),
    path("tasks/<int:pk>/claim/", tasks.task_claim, name="task_claim"),
    path("tasks/<int:pk>/assign/", tasks.task_assign, name="task_assign"),
    path("tasks/<int:pk>/comment/", tasks.task_comment, name="task_comment"),
    # golden records
    path("golden/", golden.golden_search, name="golden_search"),
    path("golden/<str:golden_id>/", golden.golden_detail, name="golden"),
    path("golden/<str:golden_id>/tree/", golden.golden_tree, name="golden_tree"),
    path("golden/<str:golden_id>/unmerge/<int:record_id>/", golden.golden_unmerge, name="golden_unmerge"),
    path("golden/<str:golden_id>/split/", golden.golden_split, name="golden_split"),
    path("golden/<str:golden_id>/override/", golden.golden_override, name="golden_override"),
    path("golden/<str:golden_id>/override/clear/", golden.golden_override_clear, name="golden_override_clear"),
    path("golden/<str:golden_id>/comment/", golden.golden_comment, name="golden_comment"),
    # survivorship rules (admins)
    path("rules/", rules.rules, name="rules"),
    path("rules/<str:entity_code>/new/", rules.rule_draft_new, name="rule_draft_new"),
    path("rules/drafts/<int:pk>/", rules.rule_draft, name="rule_draft"),
    path("rules/drafts/<int:pk>/preview/", rules.rule_draft_preview, name="rule_draft_preview"),
    path("rules/drafts/<int:pk>/activate/", rules.rule_draft_activate, name="rule_draft_activate"),
    path("rules/drafts/<int:pk>/discard/", rules.rule_draft_discard, name="rule_draft_discard"),
    path("rules/jobs/<int:pk>/", rules.rule_job, name="rule_job"),
    # batch upload
    path("uploads/", uploads.uploads, name="uploads"),
    path("uploads/new/", uploads.upload_new, name="upload_new"),
    path("uploads/<int:pk>/", uploads.upload_detail, name="upload"),
    path("uploads/<int:pk>/rejects.csv", uploads.upload_rejects_csv, name="upload_rejects"),
]
