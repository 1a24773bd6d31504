-- sipcapture: SQLite tables in the Homer 5 layout (Kamailio schema_data.sql).
--
-- This file is a template, read by src/store/schema-template.ts. Each section starts with a
-- `-- @kind` line naming the table kinds it creates; `{{table}}` is replaced by the table name
-- (already validated as [A-Za-z_][A-Za-z0-9_]{0,62}), so the same text creates
-- `sip_capture_call_20261122` today and `sip_capture_call_20261123` tomorrow.
-- Statements are separated by `;` at the end of a line. Everything is IF NOT EXISTS: running a
-- section twice is harmless.
--
-- Adapted from MySQL: `id INTEGER PRIMARY KEY` (the rowid, auto-assigned), every column NOT
-- NULL with a default (MySQL's `family` is the only nullable one there), `msg` a BLOB (raw
-- bytes, no 1500-character limit), `date` the 'YYYY-MM-DD HH:MM:SS' text the row carries.
-- SQLite ignores VARCHAR sizes; the store cuts text to the same widths as PostgreSQL and MySQL
-- (src/store/limits.ts) before inserting, so the three backends hold the same rows.

-- @kind sip
CREATE TABLE IF NOT EXISTS "{{table}}" (
  id INTEGER PRIMARY KEY,
  date TEXT NOT NULL DEFAULT '1970-01-01 00:00:00',
  micro_ts INTEGER NOT NULL DEFAULT 0,
  method TEXT NOT NULL DEFAULT '',
  reply_reason TEXT NOT NULL DEFAULT '',
  ruri TEXT NOT NULL DEFAULT '',
  ruri_user TEXT NOT NULL DEFAULT '',
  ruri_domain TEXT NOT NULL DEFAULT '',
  from_user TEXT NOT NULL DEFAULT '',
  from_domain TEXT NOT NULL DEFAULT '',
  from_tag TEXT NOT NULL DEFAULT '',
  to_user TEXT NOT NULL DEFAULT '',
  to_domain TEXT NOT NULL DEFAULT '',
  to_tag TEXT NOT NULL DEFAULT '',
  pid_user TEXT NOT NULL DEFAULT '',
  contact_user TEXT NOT NULL DEFAULT '',
  auth_user TEXT NOT NULL DEFAULT '',
  callid TEXT NOT NULL DEFAULT '',
  callid_aleg TEXT NOT NULL DEFAULT '',
  via_1 TEXT NOT NULL DEFAULT '',
  via_1_branch TEXT NOT NULL DEFAULT '',
  cseq TEXT NOT NULL DEFAULT '',
  diversion TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  auth TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT '',
  source_ip TEXT NOT NULL DEFAULT '',
  source_port INTEGER NOT NULL DEFAULT 0,
  destination_ip TEXT NOT NULL DEFAULT '',
  destination_port INTEGER NOT NULL DEFAULT 0,
  contact_ip TEXT NOT NULL DEFAULT '',
  contact_port INTEGER NOT NULL DEFAULT 0,
  originator_ip TEXT NOT NULL DEFAULT '',
  originator_port INTEGER NOT NULL DEFAULT 0,
  correlation_id TEXT NOT NULL DEFAULT '',
  custom_field1 TEXT NOT NULL DEFAULT '',
  custom_field2 TEXT NOT NULL DEFAULT '',
  custom_field3 TEXT NOT NULL DEFAULT '',
  proto INTEGER NOT NULL DEFAULT 0,
  family INTEGER NOT NULL DEFAULT 0,
  rtp_stat TEXT NOT NULL DEFAULT '',
  type INTEGER NOT NULL DEFAULT 0,
  node TEXT NOT NULL DEFAULT '',
  msg BLOB NOT NULL DEFAULT x''
);
-- The columns Homer searches: Kamailio's eight keys, plus correlation_id (RTCP/QoS joins).
CREATE INDEX IF NOT EXISTS "{{table}}_date" ON "{{table}}" (date);
CREATE INDEX IF NOT EXISTS "{{table}}_callid" ON "{{table}}" (callid);
CREATE INDEX IF NOT EXISTS "{{table}}_callid_aleg" ON "{{table}}" (callid_aleg);
CREATE INDEX IF NOT EXISTS "{{table}}_ruri_user" ON "{{table}}" (ruri_user);
CREATE INDEX IF NOT EXISTS "{{table}}_from_user" ON "{{table}}" (from_user);
CREATE INDEX IF NOT EXISTS "{{table}}_to_user" ON "{{table}}" (to_user);
CREATE INDEX IF NOT EXISTS "{{table}}_pid_user" ON "{{table}}" (pid_user);
CREATE INDEX IF NOT EXISTS "{{table}}_auth_user" ON "{{table}}" (auth_user);
CREATE INDEX IF NOT EXISTS "{{table}}_correlation_id" ON "{{table}}" (correlation_id);

-- @kind rtcp report logs
CREATE TABLE IF NOT EXISTS "{{table}}" (
  id INTEGER PRIMARY KEY,
  date TEXT NOT NULL DEFAULT '1970-01-01 00:00:00',
  micro_ts INTEGER NOT NULL DEFAULT 0,
  correlation_id TEXT NOT NULL DEFAULT '',
  source_ip TEXT NOT NULL DEFAULT '',
  source_port INTEGER NOT NULL DEFAULT 0,
  destination_ip TEXT NOT NULL DEFAULT '',
  destination_port INTEGER NOT NULL DEFAULT 0,
  proto INTEGER NOT NULL DEFAULT 0,
  family INTEGER NOT NULL DEFAULT 0,
  type INTEGER NOT NULL DEFAULT 0,
  node TEXT NOT NULL DEFAULT '',
  msg BLOB NOT NULL DEFAULT x''
);
CREATE INDEX IF NOT EXISTS "{{table}}_date" ON "{{table}}" (date);
CREATE INDEX IF NOT EXISTS "{{table}}_correlation_id" ON "{{table}}" (correlation_id);
