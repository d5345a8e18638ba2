"""Confidential cases (issue 17): brought in an encrypted DM, queued for the coordinators, scheduled
into a session only with the case-bringer's agreement, erased after the retention time. A case's
content goes only to its case-bringer's DM, its session's room and (title; text where allowed) the
coordinators' room."""
