-- sipcapture: MySQL 8 / MariaDB 10.2+ schema, Homer 5 compatible (the 44 columns Kamailio's
-- sipcapture module inserts, plus id).
--
-- This file is a TEMPLATE, read by the daemon (ensureTable, `sipcapture db-init`):
--   * `-- @kind sip` starts the layout of sip_capture and of the Homer 5 daily tables
--     sip_capture_call_YYYYMMDD / sip_capture_registration_YYYYMMDD / sip_capture_rest_YYYYMMDD;
--     `-- @kind rtcp report logs` the layout of rtcp_capture, report_capture and logs_capture.
--   * {{table}} is replaced by the table name (validated as ^[A-Za-z_][A-Za-z0-9_]{0,62}$).
--   * Statements end with ";" at the end of a line.
-- To use it by hand: sed 's/{{table}}/sip_capture/g' on the wanted section, then `mysql`.
--
-- Differences from Kamailio's schema_data.sql, on purpose:
--   * msg is mediumblob (up to 16 MiB, any byte) instead of utf8 varchar(1500), which lost every
--     message longer than 1500 characters or not valid UTF-8 (homer#174, homer#292);
--   * utf8mb4 instead of 3-byte utf8; widths are generous (src/store/limits.ts, which also
--     truncates values to them instead of losing the row);
--   * date is DATETIME, not TIMESTAMP: the row's date text is already rendered in the configured
--     zone (date_time_zone, UTC recommended) and DATETIME stores it exactly as written, whatever
--     the session time_zone, and has no 2038 limit. (A TIMESTAMP column would convert from the
--     session zone; Homer 5's UNIX_TIMESTAMP(date) partitioning needs TIMESTAMP, with DATETIME
--     partition by RANGE COLUMNS(date) or TO_DAYS(date) instead.)
--   * no sample partitions and no ROW_FORMAT=COMPRESSED; PRIMARY KEY (id, date) is kept so the
--     table can be partitioned by date later.
--   * ENGINE=InnoDB: a batch is one transaction (all or nothing). db_insert_mode=1 (INSERT DELAYED)
--     only applies to tables whose engine supports it (MyISAM, Aria, MEMORY, ARCHIVE on MariaDB).

-- @kind sip
CREATE TABLE IF NOT EXISTS `{{table}}` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `date` datetime NOT NULL DEFAULT '1900-01-01 00:00:01',
  `micro_ts` bigint NOT NULL DEFAULT 0,
  `method` varchar(64) NOT NULL DEFAULT '',
  `reply_reason` varchar(256) NOT NULL DEFAULT '',
  `ruri` varchar(1024) NOT NULL DEFAULT '',
  `ruri_user` varchar(256) NOT NULL DEFAULT '',
  `ruri_domain` varchar(256) NOT NULL DEFAULT '',
  `from_user` varchar(256) NOT NULL DEFAULT '',
  `from_domain` varchar(256) NOT NULL DEFAULT '',
  `from_tag` varchar(128) NOT NULL DEFAULT '',
  `to_user` varchar(256) NOT NULL DEFAULT '',
  `to_domain` varchar(256) NOT NULL DEFAULT '',
  `to_tag` varchar(128) NOT NULL DEFAULT '',
  `pid_user` varchar(256) NOT NULL DEFAULT '',
  `contact_user` varchar(256) NOT NULL DEFAULT '',
  `auth_user` varchar(256) NOT NULL DEFAULT '',
  `callid` varchar(256) NOT NULL DEFAULT '',
  `callid_aleg` varchar(256) NOT NULL DEFAULT '',
  `via_1` varchar(1024) NOT NULL DEFAULT '',
  `via_1_branch` varchar(256) NOT NULL DEFAULT '',
  `cseq` varchar(64) NOT NULL DEFAULT '',
  `diversion` varchar(1024) NOT NULL DEFAULT '',
  `reason` varchar(512) NOT NULL DEFAULT '',
  `content_type` varchar(256) NOT NULL DEFAULT '',
  `auth` varchar(256) NOT NULL DEFAULT '',
  `user_agent` varchar(512) NOT NULL DEFAULT '',
  `source_ip` varchar(64) NOT NULL DEFAULT '',
  `source_port` int NOT NULL DEFAULT 0,
  `destination_ip` varchar(64) NOT NULL DEFAULT '',
  `destination_port` int NOT NULL DEFAULT 0,
  `contact_ip` varchar(256) NOT NULL DEFAULT '',
  `contact_port` int NOT NULL DEFAULT 0,
  `originator_ip` varchar(256) NOT NULL DEFAULT '',
  `originator_port` int NOT NULL DEFAULT 0,
  `correlation_id` varchar(256) NOT NULL DEFAULT '',
  `custom_field1` varchar(256) NOT NULL DEFAULT '',
  `custom_field2` varchar(256) NOT NULL DEFAULT '',
  `custom_field3` varchar(256) NOT NULL DEFAULT '',
  `proto` int NOT NULL DEFAULT 0,
  `family` int DEFAULT NULL,
  `rtp_stat` varchar(1024) NOT NULL DEFAULT '',
  `type` int NOT NULL DEFAULT 0,
  `node` varchar(128) NOT NULL DEFAULT '',
  `msg` mediumblob NOT NULL,
  PRIMARY KEY (`id`, `date`),
  KEY `date` (`date`),
  KEY `callid` (`callid`),
  KEY `callid_aleg` (`callid_aleg`),
  KEY `ruri_user` (`ruri_user`),
  KEY `from_user` (`from_user`),
  KEY `to_user` (`to_user`),
  KEY `pid_user` (`pid_user`),
  KEY `auth_user` (`auth_user`),
  KEY `correlation_id` (`correlation_id`)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- @kind rtcp report logs
CREATE TABLE IF NOT EXISTS `{{table}}` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `date` datetime NOT NULL DEFAULT '1900-01-01 00:00:01',
  `micro_ts` bigint NOT NULL DEFAULT 0,
  `correlation_id` varchar(256) NOT NULL DEFAULT '',
  `source_ip` varchar(64) NOT NULL DEFAULT '',
  `source_port` int NOT NULL DEFAULT 0,
  `destination_ip` varchar(64) NOT NULL DEFAULT '',
  `destination_port` int NOT NULL DEFAULT 0,
  `proto` int NOT NULL DEFAULT 0,
  `family` int DEFAULT NULL,
  `type` int NOT NULL DEFAULT 0,
  `node` varchar(128) NOT NULL DEFAULT '',
  `msg` mediumblob NOT NULL,
  PRIMARY KEY (`id`, `date`),
  KEY `date` (`date`),
  KEY `correlation_id` (`correlation_id`)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
