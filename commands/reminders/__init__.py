"""Reminders (issue 18): event reminders and the questions-in-advance reminder by DM, following
registrations and the event's start; `!reminders on|off`."""
