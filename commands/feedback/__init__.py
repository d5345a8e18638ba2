"""Feedback after every meeting (issue 19): forms answered one question at a time in the DM,
group feedback, a deadline with nudges to those who have not answered, anonymous forms that are
really anonymous, and results for coordinators with a chart and a summary for everyone."""
