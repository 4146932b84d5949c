"""Analytics: every metric written once in Ibis and run on DuckDB, ClickHouse (server or chdb) or Spark."""
