/**
 * Migration 2: graphs (`graphSettle`, `graphState`) and the observability steps (timeline,
 * logs, listing, change feed). See README.md, "Layout" and "Timeline, listing and feed".
 *
 * - A record's timeline lives in its own row (`record.timeline`): its first entry is
 *   written by create_records with the row (set-based, with the listing columns `created`
 *   and `root`), every later one by a BEFORE UPDATE trigger in the statement that changes
 *   the status, so every step that changes one (update_record, swarm_end, a claim's begin)
 *   records it in the same transaction, at no extra row, and it lives and dies with the
 *   record.
 * - Both publish the change on the feed (`pg_notify` on the channel named as the schema)
 *   only while a `subscriber` row is live.
 * - Logs are rows of `log`, deleted with their record (delete_records, cleanup, a
 *   record created again over an expired one).
 * - A graph's progress is kept beside its swarm rows (`graph_node`, `graph_edge`,
 *   `graph_target`, `swarm.settled`) and goes with them.
 */
import type { Migration } from './migrations';

/** Most timeline entries kept per record (TIMELINE_CAP in @mageflow/core). */
const TIMELINE_CAP = 50;
/** Notification payloads up to this many bytes go on the channel as they are; longer ones are parked in `feed_overflow` (NOTIFY's limit is 8000). */
const NOTIFY_MAX = 7900;

export const OBSERVABILITY_AND_GRAPHS: Migration = {
  version: 2,
  name: 'timeline, logs, listing index, change feed, graphs',
  sql: (S) => `
-- created: the record's creationTime (ms), the listing index's order; root: created
-- without a parent (both written by create_records); timeline: its status changes, oldest first, each a list of encoded
-- values [at, status, from, worker, runId, attempt] (at: a number, the server's clock).
ALTER TABLE ${S}.record
  ADD COLUMN created bigint,
  ADD COLUMN root boolean NOT NULL DEFAULT false,
  ADD COLUMN timeline jsonb NOT NULL DEFAULT '[]';
UPDATE ${S}.record SET
  created = CASE WHEN jsonb_typeof(body) = 'object' AND body->>'creationTime' ~ '^-?[0-9]{1,16}$' THEN (body->>'creationTime')::bigint END,
  root = jsonb_typeof(body) = 'object' AND NOT body ? 'parent';
-- keys compared byte-wise (COLLATE "C"), as the other stores order them, whatever the database's collation
CREATE INDEX record_created_idx ON ${S}.record (created, key COLLATE "C") WHERE created IS NOT NULL;
CREATE INDEX record_root_created_idx ON ${S}.record (created, key COLLATE "C") WHERE root AND created IS NOT NULL;

-- A live row per store subscribed to the feed (renewed while it listens): steps publish only while one exists.
CREATE TABLE ${S}.subscriber (
  id text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
-- Feed payloads too long for NOTIFY: the notification carries the id, the listener reads the row.
CREATE TABLE ${S}.feed_overflow (
  id bigserial PRIMARY KEY,
  payload text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX feed_overflow_expires_idx ON ${S}.feed_overflow (expires_at);

-- A record's log entries (JSON text), the last LOG_CAP by seq; deleted with the record.
CREATE TABLE ${S}.log (
  key text NOT NULL,
  seq bigint NOT NULL,
  entry text NOT NULL,
  PRIMARY KEY (key, seq)
);

-- A graph's progress, beside its swarm rows: how each settled node ended, each settled
-- edge, and per target its incoming edges settled and taken (skip_pending: none taken,
-- its own settlement not recorded yet). swarm.settled: nodes settled; swarm.unlisted:
-- nodes queued by graph_settle (counted in total, not in the member list).
CREATE TABLE ${S}.graph_node (
  graph text NOT NULL,
  node text NOT NULL,
  outcome text NOT NULL,
  taken boolean NOT NULL,
  PRIMARY KEY (graph, node)
);
CREATE TABLE ${S}.graph_edge (
  graph text NOT NULL,
  edge integer NOT NULL,
  taken boolean NOT NULL,
  PRIMARY KEY (graph, edge)
);
CREATE TABLE ${S}.graph_target (
  graph text NOT NULL,
  node text NOT NULL,
  settled integer NOT NULL,
  taken integer NOT NULL,
  skip_pending boolean NOT NULL DEFAULT false,
  PRIMARY KEY (graph, node)
);
ALTER TABLE ${S}.swarm ADD COLUMN settled integer NOT NULL DEFAULT 0, ADD COLUMN unlisted integer NOT NULL DEFAULT 0;

-- Sends a feed payload: on the channel when it fits, else parked for the listener to read.
CREATE FUNCTION ${S}.publish(payload text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  parked bigint;
BEGIN
  IF octet_length(payload) <= ${NOTIFY_MAX} THEN
    PERFORM pg_notify('${S.slice(1, -1)}', payload);
  ELSE
    INSERT INTO ${S}.feed_overflow (payload, expires_at) VALUES (payload, now() + interval '5 minutes') RETURNING id INTO parked;
    PERFORM pg_notify('${S.slice(1, -1)}', '{"overflow":' || parked || '}');
  END IF;
END $$;

-- Whether anyone listens to the feed (an empty table costs a page read).
CREATE FUNCTION ${S}.listening() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT EXISTS (SELECT 1 FROM ${S}.subscriber WHERE expires_at > now()) $$;

-- The timeline entry of a record's body as it stands, at the server's clock:
-- [at, status, from, worker, runId, attempt], the last five encoded as the body keeps them.
CREATE FUNCTION ${S}.timeline_entry(at bigint, b jsonb, from_status jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_build_array(at, b->'status', from_status, b->'worker', b->'runId', b->'attempt') $$;

-- The time of a timeline entry: the server's clock, in ms.
CREATE FUNCTION ${S}.now_ms() RETURNS bigint
LANGUAGE sql VOLATILE AS $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- BEFORE UPDATE of a record whose status changes, or that is created again over its
-- expired row: appends the timeline entry (the oldest past the cap dropped) and publishes
-- it while anyone listens. A creation is recorded and published by create_records, set-based.
CREATE FUNCTION ${S}.record_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b jsonb := NEW.body;
  entry jsonb;
BEGIN
  IF OLD.expires_at <= now() THEN
    -- created again (create_records' ON CONFLICT): nothing kept for the expired record is this one's
    DELETE FROM ${S}.log WHERE key = NEW.key;
    RETURN NEW;
  END IF;
  entry := ${S}.timeline_entry(${S}.now_ms(), b, OLD.body->'status');
  IF jsonb_array_length(NEW.timeline) >= ${TIMELINE_CAP} THEN
    NEW.timeline := (NEW.timeline - 0) || jsonb_build_array(entry);
  ELSE
    NEW.timeline := NEW.timeline || jsonb_build_array(entry);
  END IF;
  IF ${S}.listening() THEN
    PERFORM ${S}.publish(jsonb_build_object('type', 'status', 'key', NEW.key, 'kind', b->'kind', 'taskName', b->'taskName',
      'parent', b->'parent', 'entry', entry)::text);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER record_status_changed BEFORE UPDATE ON ${S}.record FOR EACH ROW
  WHEN (OLD.body->'status' IS DISTINCT FROM NEW.body->'status' OR OLD.expires_at <= now())
  EXECUTE FUNCTION ${S}.record_changed();

-- Replaced: also writes each record's listing columns (created, root) and the first entry
-- of its timeline, set-based in the INSERT, and publishes the creations while anyone listens.
CREATE OR REPLACE FUNCTION ${S}.create_records(records jsonb, ttl_sec integer, track boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  taken text;
  n integer;
  written integer;
  at bigint := ${S}.now_ms();
BEGIN
  SELECT r.key INTO taken FROM ${S}.record r
    WHERE r.key IN (SELECT e->>0 FROM jsonb_array_elements(records) e) AND r.expires_at > now() LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a signature "%" already exists', taken USING ERRCODE = 'unique_violation', DETAIL = taken;
  END IF;
  n := jsonb_array_length(records);
  INSERT INTO ${S}.record AS r (key, body, open, expires_at, created, root, timeline)
    SELECT e->>0, e->1, track, now() + make_interval(secs => ttl_sec),
      CASE WHEN jsonb_typeof(e->1) = 'object' AND e->1->>'creationTime' ~ '^-?[0-9]{1,16}$' THEN (e->1->>'creationTime')::bigint END,
      jsonb_typeof(e->1) = 'object' AND NOT (e->1) ? 'parent',
      jsonb_build_array(${S}.timeline_entry(at, e->1, NULL))
    FROM jsonb_array_elements(records) e
  ON CONFLICT (key) DO UPDATE SET body = excluded.body, open = excluded.open, expires_at = excluded.expires_at,
    created = excluded.created, root = excluded.root, timeline = excluded.timeline
    WHERE r.expires_at <= now();
  GET DIAGNOSTICS written = ROW_COUNT;
  IF written < n THEN
    -- created by another call since the check above
    RAISE EXCEPTION 'a signature among those created already exists' USING ERRCODE = 'unique_violation', DETAIL = records->0->>0;
  END IF;
  IF ${S}.listening() THEN
    PERFORM ${S}.publish(jsonb_build_object('type', 'status', 'key', x.e->>0, 'kind', x.e->1->'kind', 'taskName', x.e->1->'taskName',
      'parent', x.e->1->'parent', 'entry', ${S}.timeline_entry(at, x.e->1, NULL))::text)
    FROM jsonb_array_elements(records) WITH ORDINALITY AS x(e, ord) ORDER BY x.ord;
  END IF;
  RETURN n;
END $$;

-- Appends log entries (JSON text) to a live record's log, keeps the last cap, and
-- publishes them while anyone listens. The record row is share-locked so a deletion
-- waits (and deletes these too); appends to one record are serialized by an advisory lock.
CREATE FUNCTION ${S}.append_logs(k text, entries text[], cap integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  last bigint;
  parent jsonb;
  n integer := coalesce(array_length(entries, 1), 0);
BEGIN
  IF n = 0 THEN RETURN; END IF;
  SELECT body->'parent' INTO parent FROM ${S}.record WHERE key = k AND expires_at > now() FOR KEY SHARE;
  IF NOT FOUND THEN RETURN; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('mageflow log ' || '${S.slice(1, -1)}' || ' ' || k));
  SELECT coalesce(max(seq), 0) INTO last FROM ${S}.log WHERE key = k;
  INSERT INTO ${S}.log (key, seq, entry) SELECT k, last + e.ord, e.value FROM unnest(entries) WITH ORDINALITY AS e(value, ord);
  DELETE FROM ${S}.log WHERE key = k AND seq <= last + n - cap;
  IF ${S}.listening() THEN
    -- parent: the record's encoded field (a JSON string holding JSON), decoded by the feed like a status event's
    PERFORM ${S}.publish('{"type":"log","key":' || to_jsonb(k)::text
        || CASE WHEN parent IS NULL THEN '' ELSE ',"parent":' || parent::text END || ',"entry":' || e.value || '}')
      FROM unnest(entries) WITH ORDINALITY AS e(value, ord) ORDER BY e.ord;
  END IF;
END $$;

-- Whether a record passes a listing's filters (see ListQuery). Values compared encoded;
-- pat: the text lowercased, pat_enc: the same JSON-encoded without its quotes (the name
-- and task name are kept encoded). The caller checks the decoded records again.
CREATE FUNCTION ${S}.list_match(k text, b jsonb, kinds text[], statuses text[], task_name text, pat text, pat_enc text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT (kinds IS NULL OR b->>'kind' = ANY (kinds))
     AND (statuses IS NULL OR b->>'status' = ANY (statuses))
     AND (task_name IS NULL OR b->>'taskName' = task_name)
     AND (pat IS NULL OR strpos(lower(k), pat) > 0 OR strpos(lower(coalesce(b->>'name', '')), pat_enc) > 0
          OR strpos(lower(coalesce(b->>'taskName', '')), pat_enc) > 0)
$$;

-- A listing page: walks the creation index newest first from (hi_at, hi_key) exclusive
-- down to lo_at, examining at most scan entries, until lim match. Returns
-- {"records": [[key, body], ...], "cursor": [created, key] | null}.
CREATE FUNCTION ${S}.list_records(
  roots boolean, hi_at bigint, hi_key text, lo_at bigint,
  kinds text[], statuses text[], task_name text, pat text, pat_enc text, lim integer, scan integer
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r record;
  scanned integer := 0;
  found integer := 0;
  out jsonb := '[]';
BEGIN
  -- two walks, so each is planned on its own index
  FOR r IN SELECT x.key, x.created, x.body FROM ${S}.record x
    WHERE roots AND x.root AND x.created IS NOT NULL AND (x.created, x.key COLLATE "C") < (hi_at, hi_key COLLATE "C") AND x.created >= lo_at AND x.expires_at > now()
    ORDER BY x.created DESC, x.key COLLATE "C" DESC
  LOOP
    IF ${S}.list_match(r.key, r.body, kinds, statuses, task_name, pat, pat_enc) THEN
      found := found + 1;
      out := out || jsonb_build_array(jsonb_build_array(r.key, r.body));
    END IF;
    scanned := scanned + 1;
    IF found >= lim OR scanned >= scan THEN
      RETURN jsonb_build_object('records', out, 'cursor', jsonb_build_array(r.created, r.key));
    END IF;
  END LOOP;
  FOR r IN SELECT x.key, x.created, x.body FROM ${S}.record x
    WHERE NOT roots AND x.created IS NOT NULL AND (x.created, x.key COLLATE "C") < (hi_at, hi_key COLLATE "C") AND x.created >= lo_at AND x.expires_at > now()
    ORDER BY x.created DESC, x.key COLLATE "C" DESC
  LOOP
    IF ${S}.list_match(r.key, r.body, kinds, statuses, task_name, pat, pat_enc) THEN
      found := found + 1;
      out := out || jsonb_build_array(jsonb_build_array(r.key, r.body));
    END IF;
    scanned := scanned + 1;
    IF found >= lim OR scanned >= scan THEN
      RETURN jsonb_build_object('records', out, 'cursor', jsonb_build_array(r.created, r.key));
    END IF;
  END LOOP;
  RETURN jsonb_build_object('records', out, 'cursor', NULL);
END $$;

-- The same walk, counting the matches by (encoded) status. Returns {"counts": {status: n}, "complete": bool}.
CREATE FUNCTION ${S}.count_records(
  roots boolean, hi_at bigint, hi_key text, lo_at bigint,
  kinds text[], statuses text[], task_name text, pat text, pat_enc text, scan integer
) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  WITH scanned AS (
    SELECT x.key, x.body FROM ${S}.record x
    WHERE x.created IS NOT NULL AND (x.created, x.key COLLATE "C") < (hi_at, hi_key COLLATE "C") AND x.created >= lo_at AND x.expires_at > now()
      AND (NOT roots OR x.root)
    ORDER BY x.created DESC, x.key COLLATE "C" DESC LIMIT scan
  )
  SELECT jsonb_build_object(
    'counts', coalesce((SELECT jsonb_object_agg(s, n) FROM (
      SELECT s.body->>'status' AS s, count(*) AS n FROM scanned s
      WHERE ${S}.list_match(s.key, s.body, kinds, statuses, task_name, pat, pat_enc) AND s.body->>'status' IS NOT NULL GROUP BY 1) c), '{}'),
    'complete', (SELECT count(*) FROM scanned) < scan)
$$;

-- Records a graph node's settlement once (see Store.graphSettle), O(its out-degree).
-- outcome: 'done' | 'failed' | 'skipped'; result: a done node's result, encoded;
-- edges: [{edge, target, incoming, taken}]. Returns [counted 0|1, settled, ready, skip,
-- finish reply (as swarm_finish's)].
CREATE FUNCTION ${S}.graph_settle(
  g text, nd text, outcome text, result text, edges jsonb,
  max_running integer, allowed text[], w text, lim integer, stop_after integer, begin_run text, begin_worker text, begin_set jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c ${S}.swarm%ROWTYPE;
  e record;
  t record;
  n integer;
  q integer := 0;
  ready text[] := '{}';
  skip text[] := '{}';
  counted boolean;
  claimed jsonb;
  finished jsonb;
BEGIN
  SELECT * INTO c FROM ${S}.swarm WHERE key = g AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN '[0, 0, [], [], [0, 0, 0, 0, 0, 0, 0, []]]'; END IF;
  INSERT INTO ${S}.graph_node (graph, node, outcome, taken)
    VALUES (g, nd, outcome, EXISTS (SELECT 1 FROM jsonb_array_elements(edges) x WHERE (x->>'taken')::boolean))
    ON CONFLICT (graph, node) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  counted := n = 1;
  n := 0;
  IF counted THEN
    c.settled := c.settled + 1;
    UPDATE ${S}.graph_target SET skip_pending = false WHERE graph = g AND node = nd AND skip_pending;
    FOR e IN SELECT (x->>'edge')::integer AS edge, x->>'target' AS target, (x->>'incoming')::integer AS incoming, (x->>'taken')::boolean AS taken
      FROM jsonb_array_elements(edges) WITH ORDINALITY AS a(x, ord) ORDER BY a.ord
    LOOP
      INSERT INTO ${S}.graph_edge (graph, edge, taken) VALUES (g, e.edge, e.taken)
        ON CONFLICT (graph, edge) DO UPDATE SET taken = excluded.taken;
      INSERT INTO ${S}.graph_target AS x (graph, node, settled, taken) VALUES (g, e.target, 1, e.taken::integer)
        ON CONFLICT (graph, node) DO UPDATE SET settled = x.settled + 1, taken = x.taken + excluded.taken
        RETURNING x.settled, x.taken INTO t;
      IF t.settled = e.incoming THEN
        IF t.taken > 0 THEN
          ready := ready || e.target;
        ELSE
          skip := skip || e.target;
          UPDATE ${S}.graph_target SET skip_pending = true WHERE graph = g AND node = e.target;
        END IF;
      END IF;
    END LOOP;
    IF cardinality(ready) > 0 THEN
      -- queued after every member added (seq past total), unlisted (no pos); one already queued stays where it is
      WITH up AS (
        INSERT INTO ${S}.member AS x (swarm, member, pos, seq, level, state)
          SELECT g, r.m, NULL, c.total + r.ord, 1, 1 FROM unnest(ready) WITH ORDINALITY AS r(m, ord)
        ON CONFLICT (swarm, member) DO UPDATE SET state = 1, seq = excluded.seq WHERE x.state = 0
        RETURNING 1
      ) SELECT count(*) INTO q FROM up;
      c.total := c.total + cardinality(ready);
      c.unlisted := c.unlisted + cardinality(ready);
      c.queued := c.queued + q;
    END IF;
    UPDATE ${S}.swarm SET settled = c.settled, total = c.total, unlisted = c.unlisted, queued = c.queued WHERE key = g;
  END IF;
  IF outcome = 'skipped' THEN
    -- it never ran: nothing to count, only free slots to give
    claimed := ${S}.claim_step(g, c.running, c.queued, c.failed, max_running, allowed, w, lim, stop_after, begin_run, begin_worker, begin_set);
    n := jsonb_array_length(claimed);
    IF n > 0 THEN UPDATE ${S}.swarm SET queued = c.queued - n, running = c.running + n WHERE key = g; END IF;
    finished := jsonb_build_array(0, c.total, c.queued - n, c.running + n, c.done, c.failed, c.closed::integer, claimed);
  ELSE
    finished := ${S}.swarm_finish(g, nd, outcome = 'done', result, max_running, allowed, w, lim, stop_after, begin_run, begin_worker, begin_set);
  END IF;
  RETURN jsonb_build_array(counted::integer, c.settled, to_jsonb(ready), to_jsonb(skip), finished);
END $$;

-- A graph's progress; nodes and edges NULL: all of it. Returns {settled, skipPending,
-- nodes: [[node, outcome, taken, result or null]], edges: [[edge, taken]]}.
CREATE FUNCTION ${S}.graph_state(g text, only_nodes text[], only_edges integer[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN s.key IS NULL THEN '{"settled": 0, "skipPending": [], "nodes": [], "edges": []}'::jsonb ELSE jsonb_build_object(
    'settled', s.settled,
    'skipPending', coalesce((SELECT jsonb_agg(t.node ORDER BY t.node) FROM ${S}.graph_target t WHERE t.graph = g AND t.skip_pending), '[]'),
    'nodes', coalesce((SELECT jsonb_agg(jsonb_build_array(n.node, n.outcome, n.taken, CASE WHEN n.outcome = 'done' THEN m.result END))
      FROM ${S}.graph_node n LEFT JOIN ${S}.member m ON m.swarm = g AND m.member = n.node AND m.outcome
      WHERE n.graph = g AND (only_nodes IS NULL OR n.node = ANY (only_nodes))), '[]'),
    'edges', coalesce((SELECT jsonb_agg(jsonb_build_array(x.edge, x.taken))
      FROM ${S}.graph_edge x WHERE x.graph = g AND (only_edges IS NULL OR x.edge = ANY (only_edges))), '[]')) END
  FROM (SELECT NULL) one LEFT JOIN ${S}.swarm s ON s.key = g AND s.expires_at > now()
$$;

-- Replaced: a graph's ready nodes are counted in total but hold no position, so the
-- next position is total - unlisted (positions stay dense: a page of members is a range);
-- what is left of an expired swarm includes its graph progress.
CREATE OR REPLACE FUNCTION ${S}.swarm_add(sw text, members jsonb, levels jsonb, max_allowed integer, ttl_sec integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c ${S}.swarm%ROWTYPE;
  n integer := jsonb_array_length(members);
  fresh integer;
  queued_now integer;
  base bigint;
BEGIN
  SELECT * INTO c FROM ${S}.swarm WHERE key = sw FOR NO KEY UPDATE;
  IF FOUND AND c.expires_at <= now() THEN
    -- what is left of an expired swarm under this key is not this one's
    PERFORM ${S}.forget_swarm(sw);
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
  base := c.total - c.unlisted;
  -- A member added again while queued keeps its place; one that is idle (drained or
  -- ended) is queued again at its new place. Either keeps its first priority.
  WITH input AS (
    SELECT e.value AS member, base + e.ord AS pos, coalesce((levels->>(e.ord::integer - 1))::integer, 1) AS level
    FROM jsonb_array_elements_text(members) WITH ORDINALITY AS e(value, ord)
  ), firsts AS (
    SELECT DISTINCT ON (i.member) i.member, i.pos, i.level FROM input i ORDER BY i.member, i.pos
  ), up AS (
    INSERT INTO ${S}.member AS x (swarm, member, pos, seq, level, state)
      SELECT sw, f.member, f.pos, f.pos + c.unlisted, f.level, 1 FROM firsts f ORDER BY f.pos
    ON CONFLICT (swarm, member) DO UPDATE SET state = 1, seq = excluded.seq, pos = coalesce(x.pos, excluded.pos)
      WHERE x.state = 0
    RETURNING x.xmax = 0 AS inserted
  )
  SELECT count(*) FILTER (WHERE up.inserted), count(*) INTO fresh, queued_now FROM up;
  IF fresh < n THEN
    INSERT INTO ${S}.member_repeat (swarm, pos, member)
      SELECT sw, base + e.ord, e.value FROM jsonb_array_elements_text(members) WITH ORDINALITY AS e(value, ord)
      JOIN ${S}.member x ON x.swarm = sw AND x.member = e.value
      WHERE x.pos IS DISTINCT FROM base + e.ord;
  END IF;
  c.total := c.total + n;
  c.queued := c.queued + queued_now;
  IF max_allowed IS NOT NULL AND c.total >= max_allowed THEN c.closed := true; END IF;
  UPDATE ${S}.swarm SET total = c.total, queued = c.queued, closed = c.closed WHERE key = sw;
  RETURN jsonb_build_array('ok', c.total, c.queued, c.running, c.done, c.failed, c.closed::integer);
END $$;

-- Deletes every row kept for a swarm (expired, or about to be created again).
CREATE FUNCTION ${S}.forget_swarm(sw text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ${S}.member WHERE swarm = sw;
  DELETE FROM ${S}.member_repeat WHERE swarm = sw;
  DELETE FROM ${S}.graph_node WHERE graph = sw;
  DELETE FROM ${S}.graph_edge WHERE graph = sw;
  DELETE FROM ${S}.graph_target WHERE graph = sw;
  DELETE FROM ${S}.swarm WHERE key = sw;
END $$;

-- Replaced: a rerun queues the listed members only (a graph's ready nodes, unlisted,
-- are dropped with its progress).
CREATE OR REPLACE FUNCTION ${S}.swarm_reset(sw text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  q integer;
BEGIN
  PERFORM 1 FROM ${S}.swarm WHERE key = sw AND expires_at > now() FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  DELETE FROM ${S}.member WHERE swarm = sw AND pos IS NULL;
  UPDATE ${S}.member SET state = 1, seq = pos, worker = NULL, outcome = NULL, result = NULL WHERE swarm = sw;
  GET DIAGNOSTICS q = ROW_COUNT;
  DELETE FROM ${S}.graph_node WHERE graph = sw;
  DELETE FROM ${S}.graph_edge WHERE graph = sw;
  DELETE FROM ${S}.graph_target WHERE graph = sw;
  UPDATE ${S}.swarm SET total = total - unlisted, unlisted = 0, settled = 0, queued = q, running = 0, done = 0, failed = 0 WHERE key = sw;
END $$;

-- Replaced: a record's logs go with it.
CREATE OR REPLACE FUNCTION ${S}.delete_records(keys text[], holder text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  locked text[];
BEGIN
  SELECT array_agg(t.k ORDER BY t.ord) INTO locked FROM unnest(keys) WITH ORDINALITY AS t(k, ord)
    WHERE EXISTS (SELECT 1 FROM ${S}.lock l WHERE l.key = t.k AND l.expires_at > now() AND l.holder IS DISTINCT FROM delete_records.holder);
  IF locked IS NOT NULL THEN RETURN locked; END IF;
  DELETE FROM ${S}.record WHERE key = ANY (keys);
  DELETE FROM ${S}.log WHERE key = ANY (keys);
  DELETE FROM ${S}.lock WHERE key = ANY (keys);
  UPDATE ${S}.swarm SET expires_at = '-infinity' WHERE key = ANY (keys);
  RETURN NULL;
END $$;

-- Replaced: expired records' logs go with them (at most LOG_CAP each), a swarm's graph
-- progress with its row, and lapsed subscribers and parked feed payloads go too.
CREATE OR REPLACE FUNCTION ${S}.cleanup(batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  removed integer := 0;
  n integer;
  budget integer := batch;
  sw text;
  gone text[];
BEGIN
  SELECT array_agg(key) INTO gone FROM (
    SELECT key FROM ${S}.record WHERE expires_at <= now() ORDER BY expires_at LIMIT batch FOR UPDATE SKIP LOCKED) x;
  IF gone IS NOT NULL THEN
    DELETE FROM ${S}.record WHERE key = ANY (gone);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
    DELETE FROM ${S}.log WHERE key = ANY (gone);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
  END IF;
  -- a swarm's members first, a batch at a time; its row (and graph progress) once none is left
  FOR sw IN SELECT key FROM ${S}.swarm WHERE expires_at <= now() ORDER BY expires_at LIMIT batch FOR UPDATE SKIP LOCKED LOOP
    EXIT WHEN budget <= 0;
    DELETE FROM ${S}.member WHERE swarm = sw AND member IN (SELECT member FROM ${S}.member WHERE swarm = sw LIMIT budget);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
    budget := budget - n;
    IF budget > 0 THEN
      PERFORM ${S}.forget_swarm(sw);
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
  DELETE FROM ${S}.subscriber WHERE id IN (SELECT id FROM ${S}.subscriber WHERE expires_at <= now() LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  DELETE FROM ${S}.feed_overflow WHERE id IN (SELECT id FROM ${S}.feed_overflow WHERE expires_at <= now() LIMIT batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  removed := removed + n;
  RETURN removed;
END $$;
`,
};
