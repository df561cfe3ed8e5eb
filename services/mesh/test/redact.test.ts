import { describe, expect, it } from "vitest";
import { maskCardNumbers, redactText, redactUrls } from "@jetmesh/mesh";

describe("redactUrls", () => {
  it.each([
    ["nats://order:s3cret@nats.shop:4222", "nats://order:***@nats.shop:4222"],
    ["nats://t0ken@127.0.0.1:4222", "nats://***@127.0.0.1:4222"],
    ["nats://a:p1@h1:4222,tls://b:p2@h2:4222", "nats://a:***@h1:4222,tls://b:***@h2:4222"],
    ["user:pw@127.0.0.1:4222", "user:***@127.0.0.1:4222"],
    ["cannot connect to NATS at nats://u:p%40ss@h:4222: CONNECTION_REFUSED", "cannot connect to NATS at nats://u:***@h:4222: CONNECTION_REFUSED"],
    ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222"],
    ["no url here", "no url here"],
  ])("%s", (input, expected) => {
    expect(redactUrls(input)).toBe(expected);
  });
});

describe("maskCardNumbers", () => {
  it.each([
    ["4242424242424242", "************4242"],
    ["card 4242 4242 4242 4242 ok", "card **** **** **** 4242 ok"],
    ["4000-0000-0000-0002", "****-****-****-0002"],
    ['{"card":"378282246310005"}', '{"card":"***********0005"}'],
    // 19 digits is the longest card number; 12 or 20 digits are not card-like.
    ["6011000990139424123", "***************4123"],
    ["123456789012", "123456789012"],
    ["12345678901234567890", "12345678901234567890"],
    ["amount 12999, seq 42, at 2026-11-30T02:51:08Z", "amount 12999, seq 42, at 2026-11-30T02:51:08Z"],
  ])("%s", (input, expected) => {
    expect(maskCardNumbers(input)).toBe(expected);
  });

  it("redactText does both", () => {
    expect(redactText("nats://u:pw@h:4222 said 4242424242424242")).toBe("nats://u:***@h:4222 said ************4242");
  });
});
