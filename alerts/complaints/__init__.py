"""Complaint records: the one complaint model (statuses, milestones, SLA clocks, overdue),
registration by story and person, customers, the SLA sweeper."""
