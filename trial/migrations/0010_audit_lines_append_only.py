"""The database itself refuses to change or delete an audit line.

Defence in depth below the application: no code path, admin page or bug can
rewrite the trail through the normal connection. (Whoever owns the database can
drop the trigger; what they change then is found by ``verify_audit``, which does
not rely on it.) SQLite refuses updates only: Django's test flush empties tables
with DELETE there, while PostgreSQL's flush uses TRUNCATE, which row triggers do
not see.
"""

from django.db import migrations

POSTGRES_CREATE = """
CREATE FUNCTION trial_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit lines are append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER trial_auditevent_append_only
    BEFORE UPDATE OR DELETE ON trial_auditevent
    FOR EACH ROW EXECUTE FUNCTION trial_audit_append_only();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS trial_auditevent_append_only ON trial_auditevent;
DROP FUNCTION IF EXISTS trial_audit_append_only();
"""
SQLITE_CREATE = """
CREATE TRIGGER trial_auditevent_append_only BEFORE UPDATE ON trial_auditevent
BEGIN SELECT RAISE(ABORT, 'audit lines are append-only (UPDATE refused)'); END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS trial_auditevent_append_only;"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE, None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("trial", "0009_audit_line_numbers_required")]

    operations = [migrations.RunPython(create, drop)]
