"""Weekly review reports: KPIs vs last week, movers, experiments, campaigns, findings — HTML and Markdown."""
