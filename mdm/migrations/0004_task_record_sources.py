"""Steward tasks keep the source systems of their records, filled in for tasks already there."""
import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_record_sources(apps, schema_editor):
    StewardTask = apps.get_model("mdm", "StewardTask")
    SourceRecord = apps.get_model("mdm", "SourceRecord")

    def source_of(field):
        return Subquery(SourceRecord.objects.filter(pk=OuterRef(field)).values("source_system_id")[:1])

    StewardTask.objects.filter(record__isnull=False).update(record_source=source_of("record_id"))
    StewardTask.objects.filter(other_record__isnull=False).update(other_record_source=source_of("other_record_id"))


class Migration(migrations.Migration):

    dependencies = [
        ('mdm', '0003_golden_name_search'),
    ]

    operations = [
        migrations.AddField(
            model_name='stewardtask',
            name='other_record_source',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mdm.sourcesystem'),
        ),
        migrations.AddField(
            model_name='stewardtask',
            name='record_source',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mdm.sourcesystem'),
        ),
        migrations.RunPython(fill_record_sources, migrations.RunPython.noop, elidable=True),
    ]
