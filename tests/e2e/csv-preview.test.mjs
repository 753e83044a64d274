// The open-data page's CSV preview reader (web/src/lib/csv-preview.js), in Node without a
// browser: the parts a real file breaks (quotes, separators and line breaks inside quotes, a
// UTF-8 byte order mark, a file cut at the byte limit, a server that ignores Range) and the
// chart's default columns.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readStart, parseCsv, columnKinds, defaultAxes, toTime } from "../../web/src/lib/csv-preview.js";

const utf8 = (s) => new TextEncoder().encode(s);

test("quoted fields keep their commas, quotes and line breaks; the BOM is dropped", () => {
  const text = '\uFEFFma,"tên, địa chỉ",ghi_chu\nTG01,"Chợ Đông Ba, Phú Hội","dòng 1\ndòng 2"\nTG02,"Cầu ""Trường Tiền""",\n';
  const { header, rows, more } = parseCsv(utf8(text), false);
  assert.deepEqual(header, ["ma", "tên, địa chỉ", "ghi_chu"]);
  assert.deepEqual(rows, [
    ["TG01", "Chợ Đông Ba, Phú Hội", "dòng 1\ndòng 2"],
    ["TG02", 'Cầu "Trường Tiền"', ""],
  ]);
  assert.equal(more, false);
});

test("a file cut at the limit loses its last, partial row, even inside a multi-byte letter", () => {
  const whole = utf8("ngay,tram,aqi\n2025-01-01,Lê Lợi,42\n2025-01-02,Kim Long,47\n");
  // Cut in the middle of the last row, after "Kim Lo".
  const cut = whole.slice(0, whole.length - 6);
  const { rows, more } = parseCsv(cut, true);
  assert.deepEqual(rows, [["2025-01-01", "Lê Lợi", "42"]]);
  assert.equal(more, true);
  const inLetter = utf8("a,b\n1,Lợi\n2,x\n");
  const at = inLetter.indexOf(0xe1); // first byte of "ợ" (E1 BB A3)
  const { rows: r2 } = parseCsv(inLetter.slice(0, at + 1), true);
  assert.deepEqual(r2, []);
});

test("the chart takes the first date column as x and the first number column as y", () => {
  const { header, rows } = parseCsv(utf8("ngay,tram,aqi\n2025-01-01,Lê Lợi,42\n01/02/2025,Kim Long,38.5\n"), false);
  const kinds = columnKinds(header, rows);
  assert.deepEqual(kinds, ["time", "text", "number"]);
  assert.deepEqual(defaultAxes(kinds), { x: 0, y: 2 });
  // Without a date: the first text column; without either: the row number.
  assert.deepEqual(defaultAxes(["number", "text", "number"]), { x: 1, y: 0 });
  assert.deepEqual(defaultAxes(["number", "number"]), { x: -1, y: 0 });
  // A date is that day in Huế (+07:00); 01/02/2025 is the 1st of February.
  assert.equal(toTime("2025-01-01"), Date.parse("2025-01-01T00:00:00+07:00") / 1000);
  assert.equal(toTime("01/02/2025"), Date.parse("2025-02-01T00:00:00+07:00") / 1000);
  assert.equal(toTime("TG01"), null);
});

let server, url, served;
before(async () => {
  // 5 MB of rows; /ignore answers the whole file to a Range request, /range honours it.
  const body = Buffer.from("n,v\n" + Array.from({ length: 400_000 }, (_, i) => `${i},${i % 97}`).join("\n") + "\n");
  server = createServer((req, res) => {
    const range = /bytes=0-(\d+)/.exec(req.headers.range || "");
    if (req.url === "/range" && range) {
      const end = Number(range[1]);
      res.writeHead(206, { "Content-Range": `bytes 0-${end}/${body.length}`, "Content-Length": end + 1 });
      res.end(body.subarray(0, end + 1));
      return;
    }
    res.writeHead(200, { "Content-Length": body.length });
    served = 0;
    // Slowly, in chunks, so the reader can stop long before the end.
    let at = 0;
    const next = () => {
      if (at >= body.length || res.destroyed) return res.end();
      const chunk = body.subarray(at, at + 64 * 1024);
      at += chunk.length;
      served = at;
      res.write(chunk, () => setImmediate(next));
    };
    res.on("close", () => (served = at));
    next();
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

test("only the first bytes are read, with or without Range support", async () => {
  const limit = 100_000;
  const a = await readStart(`${url}/range`, { limit });
  assert.equal(a.bytes.length, limit);
  assert.equal(a.truncated, true);
  const b = await readStart(`${url}/ignore`, { limit });
  assert.equal(b.bytes.length, limit);
  assert.equal(b.truncated, true);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(served < 2_000_000, `the server stopped sending early (${served} bytes)`);
  const { header, rows } = parseCsv(b.bytes, true);
  assert.deepEqual(header, ["n", "v"]);
  assert.deepEqual(rows[0], ["0", "0"]);
  assert.ok(rows.length > 1000 - 1 && rows.every((r, i) => r[0] === String(i)));
});
