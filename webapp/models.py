"""Imports every model so that the mapper and Alembic see the whole schema."""

from webapp.auth.models import (
    AuditEvent,
    Membership,
    OidcIdentity,
    OtpChallenge,
    PhoneGuard,
    Role,
    Unit,
    User,
    UserSession,
    user_roles,
)
from webapp.opendata.models import ApiKey, SavedSearch, SavedSearchHit
from webapp.reference.models import Field, LegacyPlace, Province, Ward
from webapp.reports.models import Answer, AnswerTemplate, Assignment, Attachment, Report, StatusEvent, Upload
from webapp.search.models import OutboxEntry
from webapp.warnings.models import PublicWarning, warning_regions

__all__ = ["ApiKey", "SavedSearch", "SavedSearchHit", "AnswerTemplate", "Assignment", "AuditEvent", "OidcIdentity", "OtpChallenge", "PhoneGuard", "UserSession", "Answer", "Attachment", "Field", "LegacyPlace", "Membership", "OutboxEntry", "Province",
           "PublicWarning", "Report", "Role", "StatusEvent", "Unit", "Upload", "User", "Ward", "user_roles",
           "warning_regions"]
