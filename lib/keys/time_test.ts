// OpenSSH absolute times (misc.c parse_absolute_time / format_absolute_time):
// the three lengths, the Z / UTC suffixes, the per-field ranges of strptime
// and the roll-over of mktime / timegm, and the bounds at the epoch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatAbsoluteTime, parseAbsoluteTime } from "./time.ts";

const utc = (...f: [number, number, number?, number?, number?, number?]) =>
  Date.UTC(f[0], f[1] - 1, f[2] ?? 1, f[3] ?? 0, f[4] ?? 0, f[5] ?? 0) / 1000;

test("parseAbsoluteTime: the three lengths, in UTC with either suffix in any case", () => {
  const cases: [string, number][] = [
    ["20240101Z", utc(2024, 1, 1)],
    ["20240101z", utc(2024, 1, 1)],
    ["20240101UTC", utc(2024, 1, 1)],
    ["20240101utc", utc(2024, 1, 1)],
    ["20240101Utc", utc(2024, 1, 1)],
    ["202403151234Z", utc(2024, 3, 15, 12, 34)],
    ["20240315123456UTC", utc(2024, 3, 15, 12, 34, 56)],
    ["99991231235959Z", utc(9999, 12, 31, 23, 59, 59)],
  ];
  for (const [text, want] of cases) assert.equal(parseAbsoluteTime(text), want, text);
});

test("parseAbsoluteTime: without a suffix the time is local", () => {
  const cases: [string, Date][] = [
    ["20300101", new Date(2030, 0, 1)],
    ["203007151230", new Date(2030, 6, 15, 12, 30)],
    ["20300715123059", new Date(2030, 6, 15, 12, 30, 59)],
  ];
  for (const [text, want] of cases) {
    assert.equal(parseAbsoluteTime(text), want.getTime() / 1000, text);
  }
});

test("parseAbsoluteTime: days past the month's end and leap seconds roll over", () => {
  assert.equal(parseAbsoluteTime("20230230Z"), utc(2023, 3, 2));
  assert.equal(parseAbsoluteTime("20230231Z"), utc(2023, 3, 3));
  assert.equal(parseAbsoluteTime("20240229Z"), utc(2024, 2, 29));
  assert.equal(parseAbsoluteTime("20230229Z"), utc(2023, 3, 1));
  assert.equal(parseAbsoluteTime("20230431Z"), utc(2023, 5, 1));
  assert.equal(parseAbsoluteTime("20231231235960Z"), utc(2024, 1, 1));
  assert.equal(parseAbsoluteTime("20231231235961Z"), utc(2024, 1, 1, 0, 0, 1));
});

test("parseAbsoluteTime: the epoch is 0, earlier times and two-digit years are refused", () => {
  assert.equal(parseAbsoluteTime("19700101Z"), 0);
  assert.equal(parseAbsoluteTime("19700101000001Z"), 1);
  assert.equal(parseAbsoluteTime("19691231235959Z"), undefined);
  assert.equal(parseAbsoluteTime("00000101Z"), undefined);
  // Year 70, not 1970 (the Date constructor's reading of 0-99).
  assert.equal(parseAbsoluteTime("00700101Z"), undefined);
  assert.equal(parseAbsoluteTime("00991231Z"), undefined);
});

test("parseAbsoluteTime: fields out of range, wrong lengths and non-digits are refused", () => {
  const bad = [
    "",
    "Z",
    "UTC",
    "2024",
    "2024010",
    "202401011",
    "2024010112",
    "2024010112345",
    "202401011234567",
    "20240101ZZ",
    "20240101UTCZ",
    "20240101 Z",
    "20240101GMT",
    "20240001Z", // month 0
    "20241301Z", // month 13
    "20240100Z", // day 0
    "20240132Z", // day 32
    "202401012400Z", // hour 24
    "202401011260Z", // minute 60
    "20240101123462Z", // second 62
    "2024010x",
    " 2024010",
    "+2024010",
    "2024-1-1",
    "２０２４０１０１", // full-width digits
  ];
  for (const text of bad) assert.equal(parseAbsoluteTime(text), undefined, JSON.stringify(text));
});

test("formatAbsoluteTime: local YYYY-MM-DDTHH:MM:SS, the inverse of a local parse", () => {
  for (const text of ["20240315123456", "19700102030405", "20301231235959"]) {
    const t = parseAbsoluteTime(text);
    assert.ok(t !== undefined, text);
    const want = `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}T${
      text.slice(8, 10)
    }:${text.slice(10, 12)}:${text.slice(12, 14)}`;
    assert.equal(formatAbsoluteTime(t), want);
    assert.equal(formatAbsoluteTime(BigInt(t)), want);
  }
});

test("formatAbsoluteTime: a time a Date cannot hold is printed as seconds", () => {
  assert.equal(formatAbsoluteTime(0xffffffffffffffffn), "18446744073709551615");
  assert.equal(formatAbsoluteTime(9e15), "9000000000000000");
});
