import { readFile } from "node:fs/promises";
import { ENIGMA_TOKEN_ABI, ErrorCode } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import hre from "hardhat";
import {
  ContractFactory,
  Interface,
  JsonRpcProvider,
  Wallet,
  type InterfaceAbi,
  type TransactionRequest,
} from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isNonceRace } from "./client.js";
import { TxSender, signWithWallet, type Target, type TxFields } from "./tx.js";

// Hardhat's first test account (funded with ETH by the default network).
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const OTHER = "0x000000000000000000000000000000000000dEaD";

let close: () => Promise<void>;
let provider: JsonRpcProvider;
let wallet: Wallet;
let token: Target;
const calls = new Map<string, number>();

beforeAll(async () => {
  const server = await hre.network.createServer("default", "127.0.0.1", 0);
  const { port } = await server.listen();
  close = () => server.close();
  provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: 1,
  });
  // Count the chain requests this provider makes, by method.
  const send = provider.send.bind(provider);
  provider.send = (method: string, params: unknown[] | Record<string, unknown>) => {
    calls.set(method, (calls.get(method) ?? 0) + 1);
    return send(method, params);
  };
  wallet = new Wallet(KEY, provider);
  const artifact = JSON.parse(
    await readFile(
      new URL("../../../artifacts/contracts/EnigmaToken.sol/EnigmaToken.json", import.meta.url),
      "utf8",
    ),
  ) as { abi: InterfaceAbi; bytecode: string };
  const deployed = await new ContractFactory(artifact.abi, artifact.bytecode, wallet).deploy();
  await deployed.waitForDeployment();
  token = { address: await deployed.getAddress(), iface: new Interface(ENIGMA_TOKEN_ABI) };
}, 60_000);

afterAll(async () => {
  provider.destroy();
  await close();
});

const balanceOf = async (who: string): Promise<bigint> =>
  token.iface.decodeFunctionResult(
    "balanceOf",
    await provider.call({
      to: token.address,
      data: token.iface.encodeFunctionData("balanceOf", [who]),
    }),
  )[0] as bigint;

describe("TxSender", () => {
  it("sends back-to-back transactions with one request each once nonce, gas and fees are known", async () => {
    const tx = new TxSender(wallet, provider, { pollMs: 50, timeoutMs: 10_000 });
    const before = await balanceOf(OTHER);
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    calls.clear();
    for (let i = 0; i < 5; i++) await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    // Instant mining: the receipt is there on the first look. No estimate, nonce or fee reads.
    expect(Object.fromEntries(calls)).toEqual({
      eth_sendRawTransaction: 5,
      eth_getTransactionReceipt: 5,
    });
    expect(await balanceOf(OTHER)).toBe(before + 6n);
  });

  it("reads the nonce again after another sender of the account took it", async () => {
    const tx = new TxSender(wallet, provider, { pollMs: 50, timeoutMs: 10_000 });
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    // Someone else sends from the same account: the locally counted nonce is taken.
    await (await wallet.sendTransaction({ to: OTHER, value: 1n })).wait();
    const err = await tx.send(token, "transfer", [OTHER, 1n]).catch((e: unknown) => e);
    expect(isNonceRace(err)).toBe(true);
    const before = await balanceOf(OTHER);
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    expect(await balanceOf(OTHER)).toBe(before + 1n);
  });

  it("types a revert at the estimate, at the send, and one found only in the receipt", async () => {
    // The first send of a function is estimated: the revert shows before anything is sent.
    const broke = new TxSender(new Wallet(Wallet.createRandom().privateKey, provider), provider, {
      pollMs: 20,
      timeoutMs: 10_000,
    });
    expect(await rejectedCode(broke.send(token, "transfer", [OTHER, 5n]))).toBe(
      ErrorCode.FeeBalanceTooLow,
    );
    const tx = new TxSender(wallet, provider, { pollMs: 20, timeoutMs: 10_000 });
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n])); // gas limit estimated here
    // Mining on every transaction, Hardhat answers the send with the revert (and mines it).
    expect(await rejectedCode(tx.send(token, "transfer", [OTHER, 10n ** 30n]))).toBe(
      ErrorCode.FeeBalanceTooLow,
    );
    // Without that the send succeeds and the receipt says status 0: the replay names it.
    await provider.send("evm_setAutomine", [false]);
    try {
      const sent = await tx.send(token, "transfer", [OTHER, 10n ** 30n]);
      const mining = tx.mined(sent);
      await new Promise((r) => setTimeout(r, 50));
      await provider.send("evm_mine", []);
      expect(await rejectedCode(mining)).toBe(ErrorCode.FeeBalanceTooLow);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    // And the sender goes on (its nonce read again).
    const before = await balanceOf(OTHER);
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    expect(await balanceOf(OTHER)).toBe(before + 1n);
  });

  it("recovers a send whose connection dropped without sending the transaction twice", async () => {
    const tx = new TxSender(wallet, provider, { pollMs: 20, timeoutMs: 10_000 });
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    const send = provider.send.bind(provider);
    const hangUp = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    try {
      for (const tookIt of [true, false]) {
        let raw = 0;
        provider.send = async (
          method: string,
          params: unknown[] | Record<string, unknown>,
        ): Promise<unknown> => {
          if (method === "eth_sendRawTransaction" && raw++ === 0) {
            // The connection drops after (or before) the chain got the transaction.
            if (tookIt) await send(method, params);
            throw hangUp();
          }
          return (await send(method, params)) as unknown;
        };
        const before = await balanceOf(OTHER);
        await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
        expect(await balanceOf(OTHER)).toBe(before + 1n);
        // Asked whether the chain had it; sent again only when it had not.
        expect(raw).toBe(tookIt ? 1 : 2);
      }
    } finally {
      provider.send = send;
    }
  });

  it("sends through a wallet's own sendTransaction when a subclass overrides it", async () => {
    const seen: string[] = [];
    class Hooked extends Wallet {
      override sendTransaction(tx: TransactionRequest) {
        seen.push(String(tx.data).slice(0, 10));
        return super.sendTransaction(tx);
      }
    }
    const tx = new TxSender(new Hooked(KEY, provider), provider, { pollMs: 20, timeoutMs: 10_000 });
    const before = await balanceOf(OTHER);
    await tx.mined(await tx.send(token, "transfer", [OTHER, 1n]));
    expect(await balanceOf(OTHER)).toBe(before + 1n);
    expect(seen).toEqual([token.iface.getFunction("transfer")?.selector]);
  });
});

describe("signWithWallet", () => {
  const base = {
    to: OTHER,
    data: "0xa9059cbb",
    nonce: 7,
    gasLimit: 90_000n,
    chainId: 31337n,
  };
  const cases: [string, TxFields][] = [
    [
      "EIP-1559",
      { ...base, from: "", type: 2, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1n },
    ],
    ["legacy", { ...base, from: "", type: 0, gasPrice: 875_000_000n }],
  ];

  it.each(cases)("gives the bytes ethers' own signTransaction gives (%s)", async (_, fields) => {
    const w = new Wallet(KEY);
    const tx = { ...fields, from: w.address.toLowerCase() };
    expect(signWithWallet(w, tx)).toBe(await w.signTransaction(tx));
  });

  it("refuses a transaction from another address, as ethers does", async () => {
    const w = new Wallet(KEY);
    const tx = { ...base, from: OTHER, type: 0, gasPrice: 1n };
    expect(() => signWithWallet(w, tx)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
    await expect(w.signTransaction(tx)).rejects.toThrow(/from address mismatch/);
  });
});
