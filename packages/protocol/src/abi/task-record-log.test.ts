import { Interface } from "ethers";
import { describe, expect, it } from "vitest";
import { ENIGMA_ABI } from "./contracts.js";
import { TASK_RECORD_CREATED_TOPIC, readTaskRecordLog } from "./task-record-log.js";

const iface = new Interface(ENIGMA_ABI);
const sender = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4";
const values = ["0x" + "ab".repeat(32), "0x" + "cd".repeat(32), 2n ** 64n - 1n, 7n, sender, 99n];
const encoded = iface.encodeEventLog("TaskRecordCreated", values);
const log = { topics: encoded.topics, data: encoded.data };

describe("readTaskRecordLog", () => {
  it("reads the fields ethers' decoder reads, lower case", () => {
    const parsed = iface.parseLog(log);
    expect(parsed?.name).toBe("TaskRecordCreated");
    expect(readTaskRecordLog(log)).toEqual({
      taskId: "0x" + "ab".repeat(32),
      inputsHash: "0x" + "cd".repeat(32),
      gasLimit: 2n ** 64n - 1n,
      gasPx: 7n,
      sender: sender.toLowerCase(),
    });
    expect(TASK_RECORD_CREATED_TOPIC).toBe(encoded.topics[0]?.toLowerCase());
    // Upper-case hex is the same log.
    expect(
      readTaskRecordLog({
        topics: [TASK_RECORD_CREATED_TOPIC.toUpperCase().replace("0X", "0x")],
        data: log.data.toUpperCase().replace("0X", "0x"),
      }),
    ).toEqual(readTaskRecordLog(log));
  });

  it("reads no other log, and no log of that topic in another encoding", () => {
    const other = iface.encodeEventLog("TaskFeeReturned", ["0x" + "ab".repeat(32)]);
    expect(readTaskRecordLog(other)).toBeUndefined();
    const word = (i: number) => 2 + 64 * i;
    const dirty = (at: number) => log.data.slice(0, at) + "f" + log.data.slice(at + 1);
    for (const data of [
      log.data + "00".repeat(32), // a seventh word
      log.data.slice(0, -2), // short
      dirty(word(2)), // gasLimit above uint64
      dirty(word(3)), // gasPx above uint64
      dirty(word(4)), // dirty address padding
      log.data.slice(0, -1) + "g", // not hex
    ]) {
      expect(readTaskRecordLog({ topics: log.topics, data })).toBeUndefined();
    }
    expect(
      readTaskRecordLog({ topics: [...log.topics, log.topics[0] ?? ""], data: log.data }),
    ).toBeUndefined();
    expect(readTaskRecordLog({ topics: [], data: log.data })).toBeUndefined();
  });
});
