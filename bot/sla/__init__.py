"""Time limits and reminders (config [sla]): when a step is due (working hours, deadlines),
where a limit starts and stops (lead_timers, answer_wait), the sweep that fires them, what an
alert is about, and auto-close of stale leads. The jobs that run them are in scheduler/."""
