#!/usr/bin/env python3
"""Issue 4 benchmark client: NGSI-LD ingestion, query, temporal aggregation and MQTT latency.

Standard library only, so it runs wherever python3 does. Driven by bench/issue4.sh, which
builds and starts the release server; each phase prints one JSON line that the shell script
turns into docs/BENCHMARKS.md rows.

    python3 bench/issue4.py ingest  URL ENTITIES ATTRS BATCH CLIENTS
    python3 bench/issue4.py query   URL REQUESTS
    python3 bench/issue4.py history URL INSTANCES
    python3 bench/issue4.py temporal URL REQUESTS
    python3 bench/issue4.py mqtt    URL MQTT_HOST MQTT_PORT ADMIN_TOKEN MESSAGES
"""

import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse

TYPES = ["AirQualityObserved", "WaterQualityObserved", "WeatherObserved", "Streetlight",
         "Device", "RiverGauge", "TrafficFlowObserved", "ParkingSpot", "NoiseLevelObserved",
         "WasteContainer"]
ATTRS = ["aqi", "pm25", "pm10", "no2", "o3", "temperature", "humidity", "batteryLevel",
         "waterLevel", "status"]


def connection(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)


def entity(n, rng, attrs, observed):
    e = {"id": f"urn:ngsi-ld:{TYPES[n % len(TYPES)]}:bench-{n}", "type": TYPES[n % len(TYPES)]}
    for name in ATTRS[:attrs]:
        if name == "status":
            e[name] = {"type": "Property", "value": rng.choice(["ok", "warning", "fault"]),
                       "observedAt": observed}
        else:
            e[name] = {"type": "Property", "value": round(rng.uniform(0, 300), 2),
                       "observedAt": observed}
    # Huế and around.
    e["location"] = {"type": "GeoProperty", "value": {
        "type": "Point", "coordinates": [round(107.45 + rng.random() * 0.25, 5),
                                         round(16.35 + rng.random() * 0.25, 5)]}}
    return e


def post(conn, path, body, headers=None):
    data = json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, body=data, headers=h)
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status not in (200, 201, 204):
        raise SystemExit(f"POST {path} -> {resp.status}: {payload[:500]!r}")
    return resp


def ingest(url, entities, attrs, batch, clients, headers):
    """Batch upserts (options=update) of ENTITIES entities with ATTRS attributes, twice: the
    first round creates, the second updates; the second is the figure (an IoT feed updates)."""
    rounds = {}
    for label in ("create", "update"):
        rng = random.Random(7 if label == "create" else 8)
        observed = "2026-11-25T08:00:00+07:00" if label == "create" else "2026-11-25T08:05:00+07:00"
        bodies = [[entity(n, rng, attrs, observed) for n in range(start, min(start + batch, entities))]
                  for start in range(0, entities, batch)]
        queue = list(range(len(bodies)))
        lock = threading.Lock()

        def worker():
            conn = connection(url)
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                post(conn, "/ngsi-ld/v1/entityOperations/upsert?options=update", bodies[i], headers)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        # Each entity carries ATTRS attributes plus its location.
        updates = entities * (attrs + 1)
        rounds[label] = {"seconds": round(seconds, 2), "attr_updates_per_s": round(updates / seconds)}
    print(json.dumps({"phase": "ingest", "entities": entities, "attrs": attrs + 1,
                      "batch": batch, "clients": clients, **rounds}))


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def timed_gets(url, paths, requests):
    conn = connection(url)
    latencies = {p: [] for p in paths}
    for i in range(requests):
        path = paths[i % len(paths)]
        started = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        latencies[path].append((time.perf_counter() - started) * 1000)
        if resp.status != 200:
            raise SystemExit(f"GET {path} -> {resp.status}")
    return {p: {"p50": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2),
                "max": round(max(v), 2), "n": len(v)} for p, v in latencies.items()}


def query(url, requests):
    q = urllib.parse.quote
    paths = [
        "/ngsi-ld/v1/entities?type=AirQualityObserved&q=" + q("aqi>250") + "&limit=20",
        "/ngsi-ld/v1/entities?type=AirQualityObserved&q=" + q("aqi>150;pm25<50") + "&limit=100",
        "/ngsi-ld/v1/entities?type=RiverGauge&q=" + q("waterLevel>=290|status==\"fault\"") + "&limit=20&count=true",
        "/ngsi-ld/v1/entities?type=Streetlight&q=" + q("status==\"fault\"") + "&limit=20&options=keyValues",
        "/ngsi-ld/v1/entities?type=WeatherObserved&q=" + q("temperature>100;humidity<20") + "&limit=20",
    ]
    timed_gets(url, paths, len(paths) * 5)  # warm up
    print(json.dumps({"phase": "query", "results": timed_gets(url, paths, requests)}))


GAUGE = "urn:ngsi-ld:RiverGauge:bench-KimLong"
# One reading a minute from 2024-12-01: a million minutes is about 694 days.
HISTORY_START = 1733011200  # 2024-12-01T00:00:00Z


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def history(url, instances, headers):
    """Loads INSTANCES water-level readings of one gauge through the temporal API."""
    conn = connection(url)
    post(conn, "/ngsi-ld/v1/temporal/entities", {
        "id": GAUGE, "type": "RiverGauge",
        "waterLevel": [{"type": "Property", "value": 1.0, "observedAt": iso(HISTORY_START)}]}, headers)
    rng = random.Random(11)
    chunk = 10_000
    started = time.perf_counter()
    for start in range(1, instances, chunk):
        body = {"waterLevel": [
            {"type": "Property", "value": round(1.5 + rng.random() * 2.5, 3),
             "observedAt": iso(HISTORY_START + 60 * i)}
            for i in range(start, min(start + chunk, instances))]}
        post(conn, f"/ngsi-ld/v1/temporal/entities/{GAUGE}/attrs", body, headers)
    print(json.dumps({"phase": "history", "instances": instances,
                      "seconds": round(time.perf_counter() - started, 1)}))


def temporal(url, requests):
    end = iso(HISTORY_START + 60 * 1_000_001)
    base = f"/ngsi-ld/v1/temporal/entities/{GAUGE}?options=aggregatedValues&timerel=between&timeAt={iso(HISTORY_START)}&endTimeAt={end}"
    paths = [
        base + "&aggrMethods=avg,min,max&aggrPeriodDuration=P1D",
        base + "&aggrMethods=avg,min,max&aggrPeriodDuration=PT1H",
        base + "&aggrMethods=totalCount,sum,avg&aggrPeriodDuration=PT0S",
    ]
    timed_gets(url, paths, len(paths))  # warm up
    print(json.dumps({"phase": "temporal", "results": timed_gets(url, paths, requests)}))


def mqtt_packet(kind, body):
    """An MQTT 3.1.1 packet: fixed header, remaining length (varint), body."""
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([kind]) + bytes(encoded) + body


def mqtt_string(text):
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def mqtt_latency(url, host, port, token, messages):
    """A device publishes a water level over MQTT; a subscription notifies a local HTTP
    receiver. Latency = notification received - message published, per message."""
    import http.server
    import socket
    received = {}

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = time.perf_counter()
            for e in body.get("data", []):
                level = e.get("waterLevel")
                if isinstance(level, (int, float)):
                    received.setdefault(int(level), now)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth = {"Authorization": f"Bearer {token}"}
    conn = connection(url)
    device, key = f"bench-gauge-{int(time.time())}", "bench-device-key-0123456789"
    entity = f"urn:ngsi-ld:RiverGauge:{device}"
    post(conn, "/api/v1/iot/devices", {
        "id": device, "entity_id": entity, "entity_type": "RiverGauge", "api_key": key,
        "attributes": [{"measure": "level", "name": "waterLevel", "unit_code": "MTR", "type": "number"}]},
        auth)
    sock = socket.create_connection((host, port))
    sock.sendall(mqtt_packet(0x10, mqtt_string("MQTT") + bytes([4, 2, 0, 60]) + mqtt_string(device)))
    sock.recv(4)  # CONNACK
    topic = f"dothi/v1/{key}/{device}/attrs"

    def publish(value):
        sock.sendall(mqtt_packet(0x30, mqtt_string(topic) + json.dumps({"level": value}).encode()))

    publish(0)  # creates the entity
    time.sleep(1.0)
    post(conn, "/ngsi-ld/v1/subscriptions", {
        "type": "Subscription", "entities": [{"id": entity, "type": "RiverGauge"}],
        "watchedAttributes": ["waterLevel"],
        "notification": {"format": "keyValues", "attributes": ["waterLevel"], "endpoint": {
            "uri": f"http://127.0.0.1:{server.server_address[1]}/notify",
            "accept": "application/json"}}}, auth)
    time.sleep(0.5)
    sent = {}
    for seq in range(1, messages + 1):
        sent[seq] = time.perf_counter()
        publish(seq)
        time.sleep(0.02)  # 50 messages a second from this device
    time.sleep(3.0)
    latencies = [(received[s] - t) * 1000 for s, t in sent.items() if s in received]
    print(json.dumps({"phase": "mqtt", "messages": messages, "notified": len(latencies),
                      "p50": round(statistics.median(latencies), 1),
                      "p99": round(percentile(latencies, 99), 1),
                      "max": round(max(latencies), 1)}))
    server.shutdown()


def main():
    phase, url = sys.argv[1], sys.argv[2]
    headers = {}
    key = __import__("os").environ.get("BENCH_API_KEY")
    if key:
        headers["X-API-Key"] = key
    if phase == "ingest":
        ingest(url, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), headers)
    elif phase == "query":
        query(url, int(sys.argv[3]))
    elif phase == "history":
        history(url, int(sys.argv[3]), headers)
    elif phase == "temporal":
        temporal(url, int(sys.argv[3]))
    elif phase == "mqtt":
        mqtt_latency(url, sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
    else:
        raise SystemExit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()
