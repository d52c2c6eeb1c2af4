"""The audience: patients, the concerns (segments) they are grouped by, and suppression."""
