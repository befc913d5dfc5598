"""The reference for benchmarks/run_benchmarks.py: monthly NPS, CSAT and CES in DuckDB.

Usage: python benchmarks/duckdb_reference.py surveys.csv out.csv

Does the same work as `crmmetrics compute nps csat ces -p month` on the generator's
surveys.csv (timestamps naive, read as UTC): drop blank, undated, non-integer and
off-scale scores, bucket by calendar month, then
  NPS  = (promoters - detractors) / n * 100   (same operation order as crmmetrics,
                                               so the doubles come out identical)
  CSAT = share of 1-5 scores >= 4 (top-2 box)
  CES  = mean of 1-7 scores (higher is easier), plus median and p90 because
         crmmetrics' mean shape computes them too.
Writes metric, period (YYYY-MM), n, value, median, p90 as CSV.
"""
import sys

import duckdb

QUERY = """
COPY (
  WITH s AS (
    SELECT type, score, strftime(date_trunc('month', submitted_at), '%Y-%m') AS period
    FROM read_csv_auto($src)
    WHERE score IS NOT NULL AND submitted_at IS NOT NULL AND score = floor(score))
  SELECT 'nps' AS metric, period, count(*) AS n,
         (count(*) FILTER (score >= 9) - count(*) FILTER (score <= 6)) / count(*) * 100 AS value,
         NULL::DOUBLE AS median, NULL::DOUBLE AS p90
    FROM s WHERE type = 'nps' AND score BETWEEN 0 AND 10 GROUP BY period
  UNION ALL
  SELECT 'csat', period, count(*), count(*) FILTER (score >= 4) / count(*), NULL, NULL
    FROM s WHERE type = 'csat' AND score BETWEEN 1 AND 5 GROUP BY period
  UNION ALL
  SELECT 'ces', period, count(*), avg(score), median(score), quantile_cont(score, 0.9)
    FROM s WHERE type = 'ces' AND score BETWEEN 1 AND 7 GROUP BY period
  ORDER BY metric, period
) TO '{out}' (HEADER)
"""

if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    # COPY ... TO takes no parameters, so the output path is quoted by hand.
    duckdb.execute(QUERY.replace("{out}", out.replace("'", "''")), {"src": src})
