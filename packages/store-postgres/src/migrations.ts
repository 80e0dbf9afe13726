/**
 * The store's schema, as numbered migrations. The store applies the ones a schema
 * lacks on first use (see `migrate.ts`); each is applied once, in order, and never
 * changed after release: a change to the schema is a new migration.
 *
 * `S` is the quoted schema name. Functions are written in PL/pgSQL so that every
 * step two workers race on is one call: one round trip and one transaction.
 *
 * Conventions (see README.md, "Layout"):
 * - a record's `body` is a JSON object of field -> the field's value encoded as JSON
 *   text, as the Redis store keeps a hash: steps compare and write encoded values
 *   without decoding them, and text values may hold any character (a jsonb string
 *   cannot hold U+0000, an encoded one holds it as the six characters `\u0000`);
 * - every row that expires has `expires_at`; a row past it is absent to every read
 *   and step, and `cleanup` deletes it later, in bounded batches;
 * - a swarm's (or chain's) counters live in one `swarm` row, locked first by every
 *   step that changes them, so the steps of one swarm are serialized there;
 * - a member's queue place is `(level, seq)`, claimed lowest first.
 */
export interface Migration {
  version: number;
  name: string;
  sql(schema: string): string;
}

import { OBSERVABILITY_AND_GRAPHS } from './migration-2';
import { CLAIM_CURSOR } from './migration-3';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records, swarms, members, locks, workers, audit, and their steps',
    sql: (S) => `
CREATE TABLE ${S}.record (
  key text PRIMARY KEY,
  body jsonb NOT NULL,
  open boolean NOT NULL DEFAULT false,
  expires_at timestamptz NOT NULL
);
CREATE INDEX record_open_idx ON ${S}.record (key) WHERE open;
CREATE INDEX record_expires_idx ON ${S}.record (expires_at);

CREATE TABLE ${S}.swarm (
  key text PRIMARY KEY,
  total integer NOT NULL DEFAULT 0,
  queued integer NOT NULL DEFAULT 0,
  running integer NOT NULL DEFAULT 0,
  done integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  closed boolean NOT NULL DEFAULT false,
  expires_at timestamptz NOT NULL
);
CREATE INDEX swarm_expires_idx ON ${S}.swarm (expires_at);

-- One row per distinct member of a swarm. pos: its first position among the members
-- added (from 1), NULL for a member counted at its end without ever being added;
-- level and seq: its place in the queue, claimed lowest first (level: its priority rank,
-- 0 high, 1 medium, 2 low; seq: the order added); state: 0 idle, 1 queued, 2 running (holding a slot,
-- worker: its holder); outcome: NULL until counted, then true (done) or false (failed);
-- result: a success's result, encoded as JSON text.
CREATE TABLE ${S}.member (
  swarm text NOT NULL,
  member text NOT NULL,
  pos bigint,
  seq bigint NOT NULL DEFAULT 0,
  level smallint NOT NULL DEFAULT 1,
  state smallint NOT NULL,
  worker text,
  outcome boolean,
  result text,
  PRIMARY KEY (swarm, member)
);
CREATE INDEX member_queue_idx ON ${S}.member (swarm, level, seq) WHERE state = 1;
CREATE INDEX member_running_idx ON ${S}.member (swarm) WHERE state = 2;
CREATE INDEX member_pos_idx ON ${S}.member (swarm, pos);

-- The later positions of a member added more than once (rare): the member list
-- holds it at each, its state is kept once, in member.
CREATE TABLE ${S}.member_repeat (
  swarm text NOT NULL,
  pos bigint NOT NULL,
  member text NOT NULL,
  PRIMARY KEY (swarm, pos)
);

CREATE TABLE ${S}.lock (
  key text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX lock_expires_idx ON ${S}.lock (expires_at);

CREATE TABLE ${S}.worker (
  worker text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX worker_expires_idx ON ${S}.worker (expires_at);

CREATE TABLE ${S}.audit (
  id bigserial PRIMARY KEY,
  key text NOT NULL,
  entry text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX audit_key_idx ON ${S}.audit (key, id);
CREATE INDEX audit_expires_idx ON ${S}.audit (expires_at);

-- Creates records, all or none: a live key among them fails the whole call
-- (unique_violation, DETAIL: the key). An expired row under a key is replaced.
CREATE FUNCTION ${S}.create_records(records jsonb, ttl_sec integer, track boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  taken text;
  n integer;
  written integer;
BEGIN
  SELECT r.key INTO taken FROM ${S}.record r
    WHERE r.key IN (SELECT e->>0 FROM jsonb_array_elements(records) e) AND r.expires_at > now() LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a signature "%" already exists', taken USING ERRCODE = 'unique_violation', DETAIL = taken;
  END IF;
  n := jsonb_array_length(records);
  INSERT INTO ${S}.record AS r (key, body, open, expires_at)
    SELECT e->>0, e->1, track, now() + make_interval(secs => ttl_sec) FROM jsonb_array_elements(records) e
  ON CONFLICT (key) DO UPDATE SET body = excluded.body, open = excluded.open, expires_at = excluded.expires_at
    WHERE r.expires_at <= now();
  GET DIAGNOSTICS written = ROW_COUNT;
  IF written < n THEN
    -- created by another call since the check above
    RAISE EXCEPTION 'a signature among those created already exists' USING ERRCODE = 'unique_violation', DETAIL = records->0->>0;
  END IF;
  RETURN n;
END $$;

-- The conditional update of one record. Returns ['ok', body] | ['missing'] |
-- ['mismatch', body] | ['locked', body]. expect_fields: field -> encoded value, or
-- JSON null for "not stored". holder: the caller's lock holder name, or NULL.
CREATE FUNCTION ${S}.update_record(
  k text, expect_status text[], expect_fields jsonb, set_fields jsonb, unset_fields text[], ttl_sec integer, holder text, track text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  b jsonb;
  f text;
  wanted jsonb;
BEGIN
  SELECT body INTO b FROM ${S}.record WHERE key = k AND expires_at > now() FOR UPDATE;
  IF NOT FOUND THEN RETURN '["missing"]'; END IF;
  -- not a record: handed back for the caller to name it corrupt
  IF jsonb_typeof(b) <> 'object' THEN RETURN jsonb_build_array('mismatch', b); END IF;
  IF expect_status IS NOT NULL AND ((b->>'status') = ANY (expect_status)) IS NOT TRUE THEN
    RETURN jsonb_build_array('mismatch', b);
  END IF;
  IF expect_fields IS NOT NULL THEN
    FOR f, wanted IN SELECT * FROM jsonb_each(expect_fields) LOOP
      IF jsonb_typeof(wanted) = 'null' THEN
        IF b ? f THEN RETURN jsonb_build_array('mismatch', b); END IF;
      ELSIF (b->>f) IS DISTINCT FROM (wanted #>> '{}') THEN
        RETURN jsonb_build_array('mismatch', b);
      END IF;
    END LOOP;
  END IF;
  IF EXISTS (SELECT 1 FROM ${S}.lock l WHERE l.key = k AND l.expires_at > now() AND l.holder IS DISTINCT FROM update_record.holder) THEN
    RETURN jsonb_build_array('locked', b);
  END IF;
  b := (b || coalesce(set_fields, '{}')) - coalesce(unset_fields, '{}'::text[]);
  UPDATE ${S}.record SET
    body = b,
    expires_at = CASE WHEN ttl_sec IS NULL THEN expires_at ELSE now() + make_interval(secs => ttl_sec) END,
    open = CASE track WHEN 'track' THEN true WHEN 'untrack' THEN false ELSE open END
  WHERE key = k;
  -- a chain or swarm keeps its members and counters as long as its record
  IF ttl_sec IS NOT NULL AND (b->>'kind') IS DISTINCT FROM '"task"' THEN
    UPDATE ${S}.swarm SET expires_at = now() + make_interval(secs => ttl_sec) WHERE key = k AND expires_at > now();
  END IF;
  RETURN jsonb_build_array('ok', b);
END $$;

-- Deletes records with everything kept for them, all or none; refuses while any is
-- locked by another holder (returns their keys, else NULL). A swarm's rows are
-- expired at once and deleted by the cleanup in batches, so deleting a swarm of a
-- million members is one small step.
CREATE FUNCTION ${S}.delete_records(keys text[], holder text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  locked text[];
BEGIN
  SELECT array_agg(t.k ORDER BY t.ord) INTO locked FROM unnest(keys) WITH ORDINALITY AS t(k, ord)
    WHERE EXISTS (SELECT 1 FROM ${S}.lock l WHERE l.key = t.k AND l.expires_at > now() AND l.holder IS DISTINCT FROM delete_records.holder);
  IF locked IS NOT NULL THEN RETURN locked; END IF;
  DELETE FROM ${S}.record WHERE key = ANY (keys);
  DELETE FROM ${S}.lock WHERE key = ANY (keys);
  UPDATE ${S}.swarm SET expires_at = '-infinity' WHERE key = ANY (keys);
  RETURN NULL;
END $$;

-- Gives up to \`wanted\` queued members a slot held by worker w, lowest (level, seq)
-- first, and begins the untouched tasks among them when begin_run is given (see
-- ClaimOptions.begin). The caller holds the swarm row and updates its counters.
-- Returns [[member, run id or '', body or null], ...] in claim order.
CREATE FUNCTION ${S}.claim_members(sw text, wanted integer, w text, begin_run text, begin_worker text, begin_set jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  out jsonb;
BEGIN
  WITH picked AS (
    SELECT m.member, m.level, m.seq FROM ${S}.member m
    WHERE m.swarm = sw AND m.state = 1 ORDER BY m.level, m.seq LIMIT wanted FOR UPDATE SKIP LOCKED
  ), taken AS (
    UPDATE ${S}.member m SET state = 2, worker = w FROM picked p WHERE m.swarm = sw AND m.member = p.member
    RETURNING m.member, p.level, p.seq
  ), numbered AS (
    SELECT t.member, row_number() OVER (ORDER BY t.level, t.seq) - 1 AS n FROM taken t
  ), begun AS (
    UPDATE ${S}.record r SET body = r.body || coalesce(begin_set, '{}') || jsonb_build_object(
      'status', '"active"', 'runId', to_jsonb(begin_run || '.' || nb.n)::text, 'attempt', '1', 'worker', begin_worker)
    FROM numbered nb
    WHERE begin_run IS NOT NULL AND r.key = nb.member AND r.expires_at > now() AND jsonb_typeof(r.body) = 'object'
      AND r.body->>'kind' = '"task"' AND r.body->>'status' = '"pending"' AND NOT r.body ? 'runId' AND NOT r.body ? 'dispatchedAt'
      AND NOT EXISTS (SELECT 1 FROM ${S}.lock l WHERE l.key = r.key AND l.expires_at > now())
    RETURNING r.key, r.body, begin_run || '.' || nb.n AS run
  )
  SELECT coalesce(jsonb_agg(jsonb_build_array(nb.member, coalesce(b.run, ''), coalesce(b.body, r.body)) ORDER BY nb.n), '[]')
    INTO out
  FROM numbered nb
  LEFT JOIN begun b ON b.key = nb.member
  LEFT JOIN ${S}.record r ON r.key = nb.member AND r.expires_at > now();
  RETURN out;
END $$;

-- The claim's gate: how many slots are free, the failure threshold, and the swarm
-- record's status; then claim_members.
CREATE FUNCTION ${S}.claim_step(
  sw text, running integer, queued integer, failed integer,
  max_running integer, allowed text[], w text, lim integer, stop_after integer, begin_run text, begin_worker text, begin_set jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  wanted integer := least(max_running - running, queued, coalesce(lim, queued));
BEGIN
  IF wanted <= 0 THEN RETURN '[]'; END IF;
  IF stop_after IS NOT NULL AND failed >= stop_after THEN RETURN '[]'; END IF;
  IF ((SELECT r.body->>'status' FROM ${S}.record r WHERE r.key = sw AND r.expires_at > now()) = ANY (allowed)) IS NOT TRUE THEN
    RETURN '[]';
  END IF;
  RETURN ${S}.claim_members(sw, wanted, w, begin_run, begin_worker, begin_set);
END $$;

CREATE FUNCTION ${S}.swarm_claim(
  sw text, max_running integer, allowed text[], w text, lim integer, stop_after integer, begin_run text, begin_worker text, begin_set jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c ${S}.swarm%ROWTYPE;
  claimed jsonb;
  n integer;
BEGIN
  SELECT * INTO c FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN '[]'; END IF;
  claimed := ${S}.claim_step(sw, c.running, c.queued, c.failed, max_running, allowed, w, lim, stop_after, begin_run, begin_worker, begin_set);
  n := jsonb_array_length(claimed);
  IF n > 0 THEN UPDATE ${S}.swarm SET queued = queued - n, running = running + n WHERE key = sw; END IF;
  RETURN claimed;
END $$;

-- Records a member's end once: frees its slot (or takes it out of the queue), counts
-- it, keeps its result, and gives freed slots to queued members, in one step.
-- Returns [counted 0|1, total, queued, running, done, failed, closed 0|1, claimed].
CREATE FUNCTION ${S}.swarm_finish(
  sw text, mem text, ok boolean, result text,
  max_running integer, allowed text[], w text, lim integer, stop_after integer, begin_run text, begin_worker text, begin_set jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c ${S}.swarm%ROWTYPE;
  m record;
  counted boolean := false;
  claimed jsonb;
  n integer;
BEGIN
  SELECT * INTO c FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN '[0, 0, 0, 0, 0, 0, 0, []]'; END IF;
  SELECT state, outcome INTO m FROM ${S}.member WHERE swarm = sw AND member = mem FOR UPDATE;
  IF NOT FOUND THEN
    -- never added: counted once all the same
    INSERT INTO ${S}.member (swarm, member, pos, state, outcome, result)
      VALUES (sw, mem, NULL, 0, ok, CASE WHEN ok THEN result END);
    counted := true;
  ELSIF m.outcome IS NULL THEN
    counted := true;
    IF m.state = 2 THEN
      c.running := c.running - 1;
    ELSIF m.state = 1 THEN
      -- it ended while queued (canceled): it never takes a slot
      c.queued := c.queued - 1;
    END IF;
    UPDATE ${S}.member SET state = 0, worker = NULL, outcome = ok, result = CASE WHEN ok THEN swarm_finish.result END
      WHERE swarm = sw AND member = mem;
  END IF;
  IF counted THEN
    IF ok THEN c.done := c.done + 1; ELSE c.failed := c.failed + 1; END IF;
  END IF;
  claimed := ${S}.claim_step(sw, c.running, c.queued, c.failed, max_running, allowed, w, lim, stop_after, begin_run, begin_worker, begin_set);
  n := jsonb_array_length(claimed);
  IF counted OR n > 0 THEN
    UPDATE ${S}.swarm SET queued = c.queued - n, running = c.running + n, done = c.done, failed = c.failed WHERE key = sw;
  END IF;
  RETURN jsonb_build_array(counted::integer, c.total, c.queued - n, c.running + n, c.done, c.failed, c.closed::integer, claimed);
END $$;

-- A swarm member's end (update_record) and, only if it applied, its count
-- (swarm_finish), in one step. The swarm row is locked first, as every step that
-- counts does, so two steps never wait on each other's rows in opposite orders.
-- Returns [update reply, finish reply] or, when the end did not apply, [update reply, counts].
CREATE FUNCTION ${S}.swarm_end(
  mem text, expect_status text[], expect_fields jsonb, set_fields jsonb, unset_fields text[], ttl_sec integer, holder text, track text,
  sw text, ok boolean, result text,
  max_running integer, allowed text[], w text, lim integer, stop_after integer, begin_run text, begin_worker text, begin_set jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  ended jsonb;
BEGIN
  PERFORM 1 FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  ended := ${S}.update_record(mem, expect_status, expect_fields, set_fields, unset_fields, ttl_sec, holder, track);
  IF ended->>0 <> 'ok' THEN
    RETURN jsonb_build_array(ended, coalesce(
      (SELECT jsonb_build_array(0, total, queued, running, done, failed, closed::integer) FROM ${S}.swarm WHERE key = sw AND expires_at > now()),
      '[0, 0, 0, 0, 0, 0, 0]'));
  END IF;
  RETURN jsonb_build_array(ended, ${S}.swarm_finish(sw, mem, ok, result, max_running, allowed, w, lim, stop_after, begin_run, begin_worker, begin_set));
END $$;

-- Appends members to a swarm's queue, all or none; refuses when closed or past
-- max_allowed; reaching max_allowed closes it. members: a JSON list of keys; levels: a
-- JSON list of their priority ranks (0 high, 1 medium, 2 low), or NULL when all are medium.
-- Returns ['ok' | 'closed' | 'too_many', total, queued, running, done, failed, closed 0|1].
CREATE FUNCTION ${S}.swarm_add(sw text, members jsonb, levels jsonb, max_allowed integer, ttl_sec integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c ${S}.swarm%ROWTYPE;
  n integer := jsonb_array_length(members);
  fresh integer;
  queued_now integer;
BEGIN
  SELECT * INTO c FROM ${S}.swarm WHERE key = sw FOR NO KEY UPDATE;
  IF FOUND AND c.expires_at <= now() THEN
    -- what is left of an expired swarm under this key is not this one's
    DELETE FROM ${S}.member WHERE swarm = sw;
    DELETE FROM ${S}.member_repeat WHERE swarm = sw;
    DELETE FROM ${S}.swarm WHERE key = sw;
  END IF;
  IF NOT FOUND OR c.expires_at <= now() THEN
    -- the swarm's rows live as long as its record (or ttl_sec, added to before its record exists)
    INSERT INTO ${S}.swarm (key, expires_at) VALUES (sw, coalesce(
      (SELECT r.expires_at FROM ${S}.record r WHERE r.key = sw AND r.expires_at > now()), now() + make_interval(secs => ttl_sec)))
    ON CONFLICT (key) DO NOTHING;
    SELECT * INTO c FROM ${S}.swarm WHERE key = sw FOR NO KEY UPDATE;
  END IF;
  IF c.closed THEN
    RETURN jsonb_build_array('closed', c.total, c.queued, c.running, c.done, c.failed, 1);
  END IF;
  IF max_allowed IS NOT NULL AND c.total + n > max_allowed THEN
    RETURN jsonb_build_array('too_many', c.total, c.queued, c.running, c.done, c.failed, 0);
  END IF;
  -- A member added again while queued keeps its place; one that is idle (drained or
  -- ended) is queued again at its new place. Either keeps its first priority.
  WITH input AS (
    SELECT e.value AS member, c.total + e.ord AS pos, coalesce((levels->>(e.ord::integer - 1))::integer, 1) AS level
    FROM jsonb_array_elements_text(members) WITH ORDINALITY AS e(value, ord)
  ), firsts AS (
    SELECT DISTINCT ON (i.member) i.member, i.pos, i.level FROM input i ORDER BY i.member, i.pos
  ), up AS (
    INSERT INTO ${S}.member AS x (swarm, member, pos, seq, level, state)
      SELECT sw, f.member, f.pos, f.pos, f.level, 1 FROM firsts f ORDER BY f.pos
    ON CONFLICT (swarm, member) DO UPDATE SET state = 1, seq = excluded.seq, pos = coalesce(x.pos, excluded.pos)
      WHERE x.state = 0
    RETURNING x.xmax = 0 AS inserted
  )
  SELECT count(*) FILTER (WHERE up.inserted), count(*) INTO fresh, queued_now FROM up;
  IF fresh < n THEN
    INSERT INTO ${S}.member_repeat (swarm, pos, member)
      SELECT sw, c.total + e.ord, e.value FROM jsonb_array_elements_text(members) WITH ORDINALITY AS e(value, ord)
      JOIN ${S}.member x ON x.swarm = sw AND x.member = e.value
      WHERE x.pos <> c.total + e.ord;
  END IF;
  c.total := c.total + n;
  c.queued := c.queued + queued_now;
  IF max_allowed IS NOT NULL AND c.total >= max_allowed THEN c.closed := true; END IF;
  UPDATE ${S}.swarm SET total = c.total, queued = c.queued, closed = c.closed WHERE key = sw;
  RETURN jsonb_build_array('ok', c.total, c.queued, c.running, c.done, c.failed, c.closed::integer);
END $$;

-- Moves a queued member to another priority rank (its seq kept: its place by order added
-- among the members of its new rank) and writes its record's priority (encoded), in one
-- step. False, and nothing written, when the member is not queued in this swarm.
CREATE FUNCTION ${S}.swarm_set_priority(sw text, mem text, rank smallint, encoded text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE ${S}.member SET level = rank WHERE swarm = sw AND member = mem AND state = 1;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE ${S}.record SET body = body || jsonb_build_object('priority', encoded)
    WHERE key = mem AND expires_at > now() AND jsonb_typeof(body) = 'object';
  RETURN true;
END $$;

-- Every member back in the queue at its first position and its priority; slots, counts and results
-- cleared; closed kept (a rerun).
CREATE FUNCTION ${S}.swarm_reset(sw text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  q integer;
BEGIN
  PERFORM 1 FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  DELETE FROM ${S}.member WHERE swarm = sw AND pos IS NULL;
  UPDATE ${S}.member SET state = 1, seq = pos, worker = NULL, outcome = NULL, result = NULL WHERE swarm = sw;
  GET DIAGNOSTICS q = ROW_COUNT;
  UPDATE ${S}.swarm SET queued = q, running = 0, done = 0, failed = 0 WHERE key = sw;
END $$;

-- Removes and returns every queued member, in the order claims would take them.
CREATE FUNCTION ${S}.swarm_drain(sw text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  drained text[];
BEGIN
  PERFORM 1 FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN '{}'; END IF;
  WITH d AS (
    UPDATE ${S}.member SET state = 0 WHERE swarm = sw AND state = 1 RETURNING member, level, seq
  ) SELECT coalesce(array_agg(d.member ORDER BY d.level, d.seq), '{}') INTO drained FROM d;
  UPDATE ${S}.swarm SET queued = 0 WHERE key = sw;
  RETURN drained;
END $$;

-- Deletes expired rows, at most \`batch\` per table per call (members: at most \`batch\`
-- in all), so one call is short whatever has piled up. Returns how many rows went.
CREATE FUNCTION ${S}.cleanup(batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  removed integer := 0;
  n integer;
  budget integer := batch;
  sw text;
BEGIN
  DELETE FROM ${S}.record WHERE key IN (
    SELECT key FROM ${S}.record WHERE expires_at <= now() ORDER BY expires_at LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  -- a swarm's members first, a batch at a time; its row once none is left
  FOR sw IN SELECT key FROM ${S}.swarm WHERE expires_at <= now() ORDER BY expires_at LIMIT batch FOR UPDATE SKIP LOCKED LOOP
    EXIT WHEN budget <= 0;
    DELETE FROM ${S}.member WHERE swarm = sw AND member IN (SELECT member FROM ${S}.member WHERE swarm = sw LIMIT budget);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
    budget := budget - n;
    IF budget > 0 THEN
      DELETE FROM ${S}.member_repeat WHERE swarm = sw;
      DELETE FROM ${S}.swarm WHERE key = sw;
      removed := removed + 1;
      budget := budget - 1;
    END IF;
  END LOOP;
  DELETE FROM ${S}.lock WHERE key IN (SELECT key FROM ${S}.lock WHERE expires_at <= now() LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  DELETE FROM ${S}.worker WHERE worker IN (SELECT worker FROM ${S}.worker WHERE expires_at <= now() LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  DELETE FROM ${S}.audit WHERE id IN (SELECT id FROM ${S}.audit WHERE expires_at <= now() LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  RETURN removed;
END $$;
`,
  },
  OBSERVABILITY_AND_GRAPHS,
  CLAIM_CURSOR,
];
