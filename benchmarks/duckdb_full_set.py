"""The DuckDB reference for benchmarks/run_full_set.py: the same metrics in SQL.

Usage: python benchmarks/duckdb_full_set.py CASE DATA_DIR OUT.csv

CASE is one of the crmmetrics runs that run_full_set.py times (each is what that
`crmmetrics compute` command computes on gen_crm_data.py's exports, timestamps naive and
read as UTC, as of 2025-12-31):

  surveys   nps csat ces -p month -b plan      (plan joined from customers on customer_id)
  deals     win_rate sales_cycle_length pipeline_value -p quarter
  tickets   first_reply_time full_resolution_time one_touch_rate -p month -b channel
            (one-touch: the zendesk_legacy variant of synthetic.yaml, < 2 agent replies)
  reply     first_reply_time -p month          (the linearity curve's one metric)
  churn     customer_churn_rate -p month       (ChartMogul formula)
  all       the "everything computable" run, limited to what is feasible in SQL here:
            every metric above by month without segments, plus ticket_volume,
            new_opportunities, average_deal_size and mrr (the other 20 metrics of that
            run, health_score among them, have no reference)

Writes metric, period, segment, n, value as CSV. The rules follow docs/metrics.md:
  NPS (promoters − detractors) ÷ n × 100 (same operation order, so identical doubles);
  CSAT share of 1-5 scores ≥ 4; CES mean of 1-7 scores;
  win rate won ÷ (won + lost) by close date; sales cycle mean days created → closed
  over won deals; pipeline Σ amount of deals open at the period end (created before
  it, not yet closed, or still open); reply and resolution medians in hours (reply
  by creation month, resolution by solve month; a reply before creation is left out);
  one-touch: solved tickets with a reply count below 2 ÷ solved tickets with a reply
  count, by solve month;
  churn: customers paying (mrr > 0) at the month start who churned in the month ÷
  customers paying at the month start.
"""
import sys
from pathlib import Path

import duckdb

AS_OF_END = "TIMESTAMP '2026-01-01 00:00:00'"  # the end of the as-of day 2025-12-31

SURVEYS = """
  WITH s AS (
    SELECT s.type, s.score, {period} AS period, {segment} AS segment
    FROM read_csv('{dir}/surveys.csv') s {join}
    WHERE s.score IS NOT NULL AND s.submitted_at IS NOT NULL AND s.score = floor(s.score))
  SELECT 'nps' AS metric, period, segment, count(*) AS n,
         (count(*) FILTER (score >= 9) - count(*) FILTER (score <= 6)) / count(*) * 100 AS value
    FROM s WHERE type = 'nps' AND score BETWEEN 0 AND 10 GROUP BY ALL
  UNION ALL
  SELECT 'csat', period, segment, count(*), count(*) FILTER (score >= 4) / count(*)
    FROM s WHERE type = 'csat' AND score BETWEEN 1 AND 5 GROUP BY ALL
  UNION ALL
  SELECT 'ces', period, segment, count(*), avg(score)
    FROM s WHERE type = 'ces' AND score BETWEEN 1 AND 7 GROUP BY ALL
"""

DEALS = """
  WITH d AS (SELECT * FROM read_csv('{dir}/deals.csv')),
  ends AS (SELECT t FROM generate_series(
             (SELECT date_trunc('{unit}', min(created_at)) + INTERVAL {step} FROM d),
             {as_of_end}, INTERVAL {step}) AS g(t))
  SELECT 'win_rate' AS metric, {period_closed} AS period, NULL AS segment, count(*) AS n,
         count(*) FILTER (stage = 'Won') / count(*) AS value
    FROM d WHERE stage IN ('Won', 'Lost') AND closed_at IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT 'sales_cycle_length', {period_closed}, NULL, count(*),
         avg((epoch(closed_at) - epoch(created_at)) / 86400.0)
    FROM d WHERE stage = 'Won' AND closed_at IS NOT NULL AND closed_at >= created_at GROUP BY ALL
  UNION ALL
  SELECT 'pipeline_value', {period_end}, NULL, count(*), sum(amount)
    FROM ends JOIN d ON d.created_at < ends.t
     AND (d.stage NOT IN ('Won', 'Lost') OR d.closed_at >= ends.t)
   GROUP BY ALL
  {extra}
"""

# Extra deal metrics of the "all" run (by month).
DEALS_ALL = """
  UNION ALL
  SELECT 'new_opportunities', {period_created}, NULL, count(*), count(*) FROM d GROUP BY ALL
  UNION ALL
  SELECT 'average_deal_size', {period_closed}, NULL, count(*), avg(amount)
    FROM d WHERE stage = 'Won' AND closed_at IS NOT NULL AND amount IS NOT NULL GROUP BY ALL
"""

TICKETS = """
  WITH t AS (SELECT * FROM read_csv('{dir}/tickets.csv'))
  SELECT 'first_reply_time' AS metric, {period_created} AS period, {segment} AS segment, count(*) AS n,
         median((epoch(first_response_at) - epoch(created_at)) / 3600.0) AS value
    FROM t WHERE first_response_at IS NOT NULL AND first_response_at >= created_at GROUP BY ALL
  UNION ALL
  SELECT 'full_resolution_time', {period_solved}, {segment}, count(*),
         median((epoch(resolved_at) - epoch(created_at)) / 3600.0)
    FROM t WHERE resolved_at IS NOT NULL AND resolved_at >= created_at
     AND lower(status) IN ('solved', 'closed', 'resolved') GROUP BY ALL
  UNION ALL
  SELECT 'one_touch_rate', {period_solved}, {segment}, count(*), count(*) FILTER (replies_count < 2) / count(*)
    FROM t WHERE resolved_at IS NOT NULL AND lower(status) IN ('solved', 'closed', 'resolved')
     AND replies_count IS NOT NULL GROUP BY ALL
  {extra}
"""

TICKETS_ALL = """
  UNION ALL
  SELECT 'ticket_volume', {period_created}, NULL, count(*), count(*) FROM t GROUP BY ALL
"""

# Paying customers: mrr > 0 (the Free plan pays nothing), paying on [first_paid_at,
# churned_at), first_paid_at being created_at in synthetic.yaml. A month's base is who
# pays at its start; its churn is those of them whose churned_at falls inside the month.
CHURN = """
  WITH c AS (SELECT created_at AS s, churned_at AS e, mrr FROM read_csv('{dir}/customers.csv') WHERE created_at IS NOT NULL AND mrr > 0),
  months AS (SELECT m FROM generate_series((SELECT date_trunc('month', min(s)) FROM c),
             TIMESTAMP '2025-12-01', INTERVAL 1 MONTH) AS g(m))
  SELECT 'customer_churn_rate' AS metric, strftime(m, '%Y-%m') AS period, NULL AS segment,
         count(*) AS n, count(*) FILTER (e < m + INTERVAL 1 MONTH) / count(*) AS value
    FROM months JOIN c ON c.s <= m AND (c.e IS NULL OR c.e > m)
   GROUP BY ALL
  {extra}
"""

# MRR at each month end: Σ mrr of customers paying then (the end is exclusive: the first
# instant of the next month, clipped to the end of the as-of day).
CHURN_ALL = """
  UNION ALL
  SELECT 'mrr', strftime(m, '%Y-%m'), NULL, count(*), sum(mrr)
    FROM months JOIN c ON c.s < m + INTERVAL 1 MONTH AND (c.e IS NULL OR c.e >= m + INTERVAL 1 MONTH)
   GROUP BY ALL
"""


def month(col: str) -> str:
    return f"strftime(date_trunc('month', {col}), '%Y-%m')"


def quarter(col: str) -> str:
    return f"(year({col})::VARCHAR || '-Q' || quarter({col})::VARCHAR)"


def queries(case: str, d: str) -> list[str]:
    """The SELECTs of one case, as separate statements (each a UNION ALL of metrics)."""
    if case == "surveys":
        join = f"LEFT JOIN read_csv('{d}/customers.csv') c ON s.customer_id = c.id"
        return [SURVEYS.format(dir=d, period=month("s.submitted_at"), segment="c.plan", join=join)]
    if case == "deals":
        return [DEALS.format(dir=d, unit="quarter", step="3 MONTH", as_of_end=AS_OF_END, period_closed=quarter("closed_at"),
                             period_end=quarter("ends.t - INTERVAL 1 MONTH"), extra="")]
    if case == "tickets":
        return [TICKETS.format(dir=d, period_created=month("created_at"), period_solved=month("resolved_at"),
                               segment="channel", extra="")]
    if case == "reply":
        return [TICKETS.split("UNION ALL")[0].format(dir=d, period_created=month("created_at"), segment="NULL")]
    if case == "churn":
        return [CHURN.format(dir=d, extra="")]
    if case == "all":
        return [
            SURVEYS.format(dir=d, period=month("s.submitted_at"), segment="NULL", join=""),
            DEALS.format(dir=d, unit="month", step="1 MONTH", as_of_end=AS_OF_END, period_closed=month("closed_at"),
                         period_end=month("ends.t - INTERVAL 1 MONTH"),
                         extra=DEALS_ALL.format(period_created=month("created_at"), period_closed=month("closed_at"))),
            TICKETS.format(dir=d, period_created=month("created_at"), period_solved=month("resolved_at"), segment="NULL",
                           extra=TICKETS_ALL.format(period_created=month("created_at"))),
            CHURN.format(dir=d, extra=CHURN_ALL),
        ]
    raise SystemExit(f"unknown case {case!r}: surveys, deals, tickets, reply, churn or all")


def main() -> None:
    case, data, out = sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3]
    d = str(data).replace("'", "''")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    parts = [f"({q})" for q in queries(case, d)]
    sql = " UNION ALL ".join(parts) + " ORDER BY metric, period, segment"
    # COPY ... TO takes no parameters, so the output path is quoted by hand.
    con.execute(f"COPY ({sql}) TO '{out.replace(chr(39), chr(39) * 2)}' (HEADER)")


if __name__ == "__main__":
    main()
