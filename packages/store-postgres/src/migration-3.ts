/**
 * Migration 3: a claim cursor per swarm, so that a claim's cost does not grow with the
 * members already claimed.
 *
 * A claim takes the lowest `(level, seq)` of a swarm's queued members through the
 * partial index `member_queue_idx` (`WHERE state = 1`). A claimed member's old row
 * version leaves its entry in that index until VACUUM removes it, so without a vacuum
 * (autovacuum off, or behind on a busy table) every claim stepped over the entries of
 * every member claimed before it: a swarm of a million slowed to a crawl.
 *
 * `swarm.claim_level, claim_seq` is a lower bound of the queue places of the swarm's
 * queued members. A claim scans from it and moves it to the last place it took. Every
 * statement that queues a member lower (a member added at a higher priority, a graph
 * node made ready, a reset, a priority change) lowers it in the same statement, through
 * statement triggers on `member`, so no step that queues has to know of it.
 */
import type { Migration } from './migrations';

export const CLAIM_CURSOR: Migration = {
  version: 3,
  name: 'a claim cursor per swarm',
  sql: (S) => `
ALTER TABLE ${S}.swarm
  ADD COLUMN claim_level smallint NOT NULL DEFAULT 0,
  ADD COLUMN claim_seq bigint NOT NULL DEFAULT 0;

-- Lowers the cursor of each swarm whose members the statement queued below it.
CREATE FUNCTION ${S}.lower_claim_cursor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ${S}.swarm s SET claim_level = q.level, claim_seq = q.seq
    FROM (SELECT DISTINCT ON (n.swarm) n.swarm, n.level, n.seq FROM queued_rows n WHERE n.state = 1 ORDER BY n.swarm, n.level, n.seq) q
    WHERE s.key = q.swarm AND (q.level, q.seq) < (s.claim_level, s.claim_seq);
  RETURN NULL;
END $$;
CREATE TRIGGER member_queued_insert AFTER INSERT ON ${S}.member
  REFERENCING NEW TABLE AS queued_rows FOR EACH STATEMENT EXECUTE FUNCTION ${S}.lower_claim_cursor();
CREATE TRIGGER member_queued_update AFTER UPDATE ON ${S}.member
  REFERENCING NEW TABLE AS queued_rows FOR EACH STATEMENT EXECUTE FUNCTION ${S}.lower_claim_cursor();

-- As in migration 1, scanning from the cursor, which it then moves to the last place taken.
-- Taking fewer than wanted (the swarm row counts more queued than were found past the
-- cursor) puts the cursor back at the start, so the next claim scans the whole queue.
CREATE OR REPLACE FUNCTION ${S}.claim_members(sw text, wanted integer, w text, begin_run text, begin_worker text, begin_set jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  out jsonb;
  n integer;
  from_level smallint;
  from_seq bigint;
  last_level smallint;
  last_seq bigint;
BEGIN
  SELECT claim_level, claim_seq INTO from_level, from_seq FROM ${S}.swarm WHERE key = sw;
  WITH picked AS (
    SELECT m.member, m.level, m.seq FROM ${S}.member m
    WHERE m.swarm = sw AND m.state = 1 AND (m.level, m.seq) >= (coalesce(from_level, 0::smallint), coalesce(from_seq, 0::bigint))
    ORDER BY m.level, m.seq LIMIT wanted FOR UPDATE SKIP LOCKED
  ), taken AS (
    UPDATE ${S}.member m SET state = 2, worker = w FROM picked p WHERE m.swarm = sw AND m.member = p.member
    RETURNING m.member, p.level, p.seq
  ), numbered AS (
    SELECT t.member, t.level, t.seq, row_number() OVER (ORDER BY t.level, t.seq) - 1 AS n FROM taken t
  ), begun AS (
    UPDATE ${S}.record r SET body = r.body || coalesce(begin_set, '{}') || jsonb_build_object(
      'status', '"active"', 'runId', to_jsonb(begin_run || '.' || nb.n)::text, 'attempt', '1', 'worker', begin_worker)
    FROM numbered nb
    WHERE begin_run IS NOT NULL AND r.key = nb.member AND r.expires_at > now() AND jsonb_typeof(r.body) = 'object'
      AND r.body->>'kind' = '"task"' AND r.body->>'status' = '"pending"' AND NOT r.body ? 'runId' AND NOT r.body ? 'dispatchedAt'
      AND NOT EXISTS (SELECT 1 FROM ${S}.lock l WHERE l.key = r.key AND l.expires_at > now())
    RETURNING r.key, r.body, begin_run || '.' || nb.n AS run
  )
  SELECT coalesce(jsonb_agg(jsonb_build_array(nb.member, coalesce(b.run, ''), coalesce(b.body, r.body)) ORDER BY nb.n), '[]'),
         count(*), (array_agg(nb.level ORDER BY nb.n DESC))[1], (array_agg(nb.seq ORDER BY nb.n DESC))[1]
    INTO out, n, last_level, last_seq
  FROM numbered nb
  LEFT JOIN begun b ON b.key = nb.member
  LEFT JOIN ${S}.record r ON r.key = nb.member AND r.expires_at > now();
  IF n < wanted THEN
    UPDATE ${S}.swarm SET claim_level = 0, claim_seq = 0 WHERE key = sw AND (claim_level, claim_seq) > (0::smallint, 0::bigint);
  ELSIF n > 0 THEN
    UPDATE ${S}.swarm SET claim_level = last_level, claim_seq = last_seq WHERE key = sw;
  END IF;
  RETURN out;
END $$;
`,
};
