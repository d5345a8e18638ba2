"""Announcements (issue 18): `!announce`, `!announcements`, `!announce cancel`; sent by the
schedule (now or at a chosen time) so that each goes out once, whatever the crash point."""
