-- IoT device registry (issue 4, MQTT ingestion): who may publish measures, and how a device's
-- measures become attributes of its NGSI-LD entity. Keep in step with
-- ../postgres/0006_iot_devices.sql.
--
-- key_hash is the SHA-256 (hex) of the device's API key: the key itself is shown once, at
-- creation, and never stored. spec is the device's configuration as JSON (entity type, context,
-- attribute mapping, static attributes), read and written whole by crates/dothi-store/src/iot.rs.
CREATE TABLE iot_devices (
    id TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX iot_devices_entity ON iot_devices (entity_id);
