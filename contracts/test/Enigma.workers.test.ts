import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { toUtf8Bytes, Wallet } from "ethers";
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  as,
  attestationRoot,
  bindingOf,
  ENG,
  fund,
  mined,
  MRENCLAVE,
  MRSIGNER,
  newEpoch,
  register,
  setup,
  signedReport,
  stakeOf,
  balanceOf,
  type AttestationRoot,
  type Env,
} from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
const root: AttestationRoot = attestationRoot();
useChain((e) => {
  ethers = e;
});

/** Attestation.Result values. */
const Reason = {
  Malformed: 1n,
  BadSignature: 2n,
  StatusNotAccepted: 3n,
  DebugNotAllowed: 4n,
  MrEnclaveNotAllowed: 5n,
  MrSignerNotAllowed: 6n,
  IsvSvnTooLow: 7n,
  SignerMismatch: 8n,
  CustodianMismatch: 9n,
  ChainMismatch: 10n,
  ReportTooOld: 11n,
  ReportFromFuture: 12n,
  RootChanged: 13n,
};

/** The decoded custom error of a failed call. */
async function revertOf(env: Env, p: Promise<unknown>): Promise<{ name: string; args: unknown[] }> {
  try {
    await p;
  } catch (e) {
    const data = (e as { data?: string }).data;
    if (typeof data === "string") {
      const parsed = env.enigma.interface.parseError(data);
      if (parsed !== null) return { name: parsed.name, args: [...parsed.args] };
    }
    throw e;
  }
  throw new Error("expected a revert");
}

describe("Enigma: registration with on-chain attestation", () => {
  it("registers a worker whose report is valid, logged out, with its report readable", async () => {
    const env = await setup(ethers, { workers: 0, epoch: false, root });
    const [c] = await ethers.getSigners();
    if (c === undefined) throw new Error();
    const signer = Wallet.createRandom().address;
    const { report, signature } = signedReport(root, signer, {
      binding: bindingOf(env, c.address),
    });
    const rc = await mined(as(env.enigma, c).getFunction("register")(signer, report, signature));
    const ev = env.enigma.interface.parseLog(rc.logs[0] ?? { topics: [], data: "0x" });
    expect(ev?.name).toBe("Registered");
    expect(ev?.args[0]).toBe(c.address);
    expect(ev?.args[1]).toBe(signer);
    const w = (await env.enigma.getFunction("getWorker")(c.address)) as {
      signer: string;
      status: bigint;
      report: string;
      balance: bigint;
    };
    expect(w.signer).toBe(signer);
    expect(w.status).toBe(2n); // LoggedOut
    expect(w.report).toBe(`0x${Buffer.from(report).toString("hex")}`);
    const [custodian, byCustodian] = (await env.enigma.getFunction("getWorkerFromSigningAddress")(
      signer,
    )) as [string, { signer: string }];
    expect(custodian).toBe(c.address);
    expect(byCustodian.signer).toBe(signer);
    expect(await env.enigma.getFunction("getReport")(c.address)).toEqual([
      signer,
      `0x${Buffer.from(report).toString("hex")}`,
    ]);
    expect(await as(env.enigma, c).getFunction("getSigningAddress")()).toBe(signer);
    expect(await env.enigma.getFunction("verifyReport")(report, signature)).toBe(0n);
  });

  type Binding = ReturnType<typeof bindingOf>;
  const cases: [string, bigint, (signer: string, b: Binding) => ReturnType<typeof signedReport>][] =
    [
      [
        "a report signed by another RSA key",
        Reason.BadSignature,
        (s, b) =>
          signedReport(root, s, {
            binding: b,
            signingKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
          }),
      ],
      [
        "a quote status that is not accepted",
        Reason.StatusNotAccepted,
        (s, b) => signedReport(root, s, { binding: b, status: "GROUP_OUT_OF_DATE" }),
      ],
      [
        "a debug enclave",
        Reason.DebugNotAllowed,
        (s, b) => signedReport(root, s, { binding: b, debug: true }),
      ],
      [
        "an unknown MRENCLAVE",
        Reason.MrEnclaveNotAllowed,
        (s, b) => signedReport(root, s, { binding: b, mrenclave: MRSIGNER }),
      ],
      [
        "an unknown MRSIGNER",
        Reason.MrSignerNotAllowed,
        (s, b) => signedReport(root, s, { binding: b, mrsigner: MRENCLAVE }),
      ],
      [
        "report_data naming another signer",
        Reason.SignerMismatch,
        (s, b) =>
          signedReport(root, s, { binding: b, reportDataSigner: Wallet.createRandom().address }),
      ],
      [
        "a report binding another custodian",
        Reason.CustodianMismatch,
        (s, b) =>
          signedReport(root, s, { binding: { ...b, custodian: Wallet.createRandom().address } }),
      ],
      ["a report binding no custodian", Reason.CustodianMismatch, (s) => signedReport(root, s)],
      [
        "a report for another Enigma deployment",
        Reason.ChainMismatch,
        (s, b) =>
          signedReport(root, s, {
            binding: { ...b, enigmaAddress: Wallet.createRandom().address },
          }),
      ],
      [
        "a report for another chain",
        Reason.ChainMismatch,
        (s, b) => signedReport(root, s, { binding: { ...b, chainId: b.chainId + 1n } }),
      ],
      [
        "a report older than the maximum age",
        Reason.ReportTooOld,
        (s, b) =>
          signedReport(root, s, { binding: b, timestamp: new Date(Date.now() - 2 * 86_400_000) }),
      ],
      [
        "a report from the future",
        Reason.ReportFromFuture,
        (s, b) =>
          signedReport(root, s, { binding: b, timestamp: new Date(Date.now() + 2 * 3_600_000) }),
      ],
      [
        "a report that is not the compact JSON format",
        Reason.Malformed,
        () => ({
          report: toUtf8Bytes('{"id":"1"}'),
          signature: "0x00",
        }),
      ],
      [
        "an id forging a status field",
        Reason.StatusNotAccepted,
        (s, b) =>
          signedReport(root, s, {
            binding: b,
            status: "SIGRL_VERSION_MISMATCH",
            id: '","isvEnclaveQuoteStatus":"OK',
          }),
      ],
    ];

  it.each(cases)("rejects %s (AttestationRejected, nothing stored)", async (_, reason, make) => {
    const env = await setup(ethers, { workers: 0, epoch: false, root });
    const c = env.users[0];
    if (c === undefined) throw new Error();
    const signer = Wallet.createRandom().address;
    const { report, signature } = make(signer, bindingOf(env, c.address));
    const err = await revertOf(
      env,
      as(env.enigma, c).getFunction("register")(signer, report, signature),
    );
    expect(err).toEqual({ name: "AttestationRejected", args: [reason] });
    expect(
      ((await env.enigma.getFunction("getWorker")(c.address)) as { status: bigint }).status,
    ).toBe(0n);
    // verifyReport checks signature and policy only (no signer, custodian, chain or age).
    expect(await env.enigma.getFunction("verifyReport")(report, signature)).toBe(
      reason >= Reason.SignerMismatch ? 0n : reason,
    );
  });

  it("enforces the minimum ISVSVN and lets the owner change the policy, and only the owner", async () => {
    const env = await setup(ethers, { workers: 0, epoch: false, root });
    const c = env.users[0];
    if (c === undefined) throw new Error();
    await mined(env.enigma.getFunction("setMinIsvSvn")(5));
    const signer = Wallet.createRandom().address;
    const binding = bindingOf(env, c.address);
    let r = signedReport(root, signer, { isvSvn: 4, binding });
    expect(
      await revertOf(env, as(env.enigma, c).getFunction("register")(signer, r.report, r.signature)),
    ).toEqual({
      name: "AttestationRejected",
      args: [Reason.IsvSvnTooLow],
    });
    r = signedReport(root, signer, {
      isvSvn: 5,
      debug: true,
      status: "GROUP_OUT_OF_DATE",
      binding,
    });
    await mined(env.enigma.getFunction("setAllowDebug")(true));
    await mined(env.enigma.getFunction("setQuoteStatusAccepted")("GROUP_OUT_OF_DATE", true));
    await mined(as(env.enigma, c).getFunction("register")(signer, r.report, r.signature));
    await mined(env.enigma.getFunction("setMrEnclaveAllowed")(MRENCLAVE, false));
    expect(await env.enigma.getFunction("verifyReport")(r.report, r.signature)).toBe(
      Reason.MrEnclaveNotAllowed,
    );
    await mined(env.enigma.getFunction("setMrEnclaveAllowed")(MRENCLAVE, true));
    await mined(env.enigma.getFunction("setMrSignerAllowed")(MRSIGNER, false));
    expect(await env.enigma.getFunction("verifyReport")(r.report, r.signature)).toBe(
      Reason.MrSignerNotAllowed,
    );
    const other = attestationRoot();
    await mined(env.enigma.getFunction("setAttestationRoot")(other.modulus, other.exponent));
    expect(await env.enigma.getFunction("verifyReport")(r.report, r.signature)).toBe(
      Reason.BadSignature,
    );
    for (const [fn, args] of [
      ["setMinIsvSvn", [1]],
      ["setAllowDebug", [false]],
      ["setQuoteStatusAccepted", ["OK", false]],
      ["setMrEnclaveAllowed", [MRENCLAVE, false]],
      ["setMrSignerAllowed", [MRSIGNER, false]],
      ["setAttestationRoot", ["0x01", "0x03"]],
      ["setRegistrationPaused", [true]],
    ] as const) {
      const err = await revertOf(env, as(env.enigma, c).getFunction(fn)(...args));
      expect(err.name).toBe("OwnableUnauthorizedAccount");
    }
  });

  it("refuses registrations while paused, a zero signer, and a signer another worker holds", async () => {
    const env = await setup(ethers, { workers: 1, epoch: false, root });
    const [c, d] = env.users;
    if (c === undefined || d === undefined) throw new Error();
    const signer = Wallet.createRandom().address;
    await mined(env.enigma.getFunction("setRegistrationPaused")(true));
    expect((await revertOf(env, register(env, c, signer))).name).toBe("RegistrationIsPaused");
    await mined(env.enigma.getFunction("setRegistrationPaused")(false));
    await register(env, c, signer);
    const zero = `0x${"00".repeat(20)}`;
    expect((await revertOf(env, register(env, d, zero))).name).toBe("ZeroAddress");
    expect(await revertOf(env, register(env, d, signer))).toEqual({
      name: "SignerAlreadyRegistered",
      args: [signer],
    });
    // A logged-in worker cannot swap its enclave; a logged-out one can, freeing the old signer.
    const worker = env.custodians[0];
    if (worker === undefined) throw new Error();
    expect((await revertOf(env, register(env, worker, Wallet.createRandom().address))).name).toBe(
      "WorkerNotLoggedOut",
    );
    const fresh = Wallet.createRandom().address;
    await register(env, c, fresh);
    await register(env, d, signer);
    expect(
      ((await env.enigma.getFunction("getWorkerFromSigningAddress")(signer)) as [string])[0],
    ).toBe(d.address);
  });
});

describe("Enigma: stake lifecycle", () => {
  it("deposits, logs in, logs out, withdraws only once no epoch holds it, then unregisters", async () => {
    const env = await setup(ethers, { workers: 1, root });
    const [c] = env.custodians;
    const enclave = env.enclaves[0];
    if (c === undefined || enclave === undefined) throw new Error();
    const e = as(env.enigma, c);
    expect(await stakeOf(env, c.address)).toBe(100n * ENG);
    const [signers, stakes] = (await env.enigma.getFunction("getActiveWorkers")(0)) as [
      string[],
      bigint[],
    ];
    expect(signers).toEqual([enclave.address]);
    expect(stakes).toEqual([100n * ENG]);
    expect((await revertOf(env, e.getFunction("withdraw")(1n))).name).toBe("WorkerNotLoggedOut");
    expect((await revertOf(env, e.getFunction("login")())).name).toBe("WorkerNotLoggedOut");
    await mined(e.getFunction("logout")());
    expect((await revertOf(env, e.getFunction("logout")())).name).toBe("WorkerNotLoggedIn");
    // Logged out during epoch 0: still in epoch 1's set (captured when epoch 0 started).
    expect(await revertOf(env, e.getFunction("withdraw")(1n))).toEqual({
      name: "WithdrawTooEarly",
      args: [1n, 3n],
    });
    await newEpoch(env, 2n);
    expect((await revertOf(env, e.getFunction("withdraw")(1n))).name).toBe("WithdrawTooEarly");
    await newEpoch(env, 3n);
    const before = await balanceOf(env, c.address);
    expect(await revertOf(env, e.getFunction("withdraw")(101n * ENG))).toEqual({
      name: "InsufficientBalance",
      args: [100n * ENG, 101n * ENG],
    });
    expect((await revertOf(env, e.getFunction("withdraw")(0n))).name).toBe("ZeroAmount");
    expect((await revertOf(env, e.getFunction("unregister")())).name).toBe("BalanceNotWithdrawn");
    const rc = await mined(e.getFunction("withdraw")(100n * ENG));
    expect(
      rc.logs.some((l) => env.enigma.interface.parseLog(l)?.name === "WithdrawSuccessful"),
    ).toBe(true);
    expect(await balanceOf(env, c.address)).toBe(before + 100n * ENG);
    expect(await stakeOf(env, c.address)).toBe(0n);
    expect(await revertOf(env, e.getFunction("login")())).toEqual({
      name: "StakeBelowThreshold",
      args: [0n, ENG],
    });
    await mined(e.getFunction("unregister")());
    expect(
      ((await env.enigma.getFunction("getWorker")(c.address)) as { status: bigint }).status,
    ).toBe(0n);
    expect(
      (
        (await env.enigma.getFunction("getWorkerFromSigningAddress")(enclave.address)) as [string]
      )[0],
    ).toBe(`0x${"00".repeat(20)}`);
    expect((await revertOf(env, e.getFunction("unregister")())).name).toBe("WorkerNotLoggedOut");
    expect((await revertOf(env, env.enigma.getFunction("getReport")(c.address))).name).toBe(
      "WorkerNotRegistered",
    );
  });

  it("refuses deposits to unregistered workers, zero deposits and deposits without allowance", async () => {
    const env = await setup(ethers, { workers: 1, root });
    const [u, v] = env.users;
    const [c] = env.custodians;
    if (u === undefined || v === undefined || c === undefined) throw new Error();
    expect(await revertOf(env, as(env.enigma, u).getFunction("deposit")(v.address, 1n))).toEqual({
      name: "WorkerNotRegistered",
      args: [v.address],
    });
    expect(
      (await revertOf(env, as(env.enigma, u).getFunction("deposit")(c.address, 0n))).name,
    ).toBe("ZeroAmount");
    await mined(as(env.token, u).getFunction("approve")(env.enigmaAddress, 0n));
    await expect(as(env.enigma, u).getFunction("deposit")(c.address, 1n)).rejects.toThrow(
      /ERC20InsufficientAllowance/,
    );
    // Anyone may top up a worker's stake.
    await fund(env, u, ENG);
    const rc = await mined(as(env.enigma, u).getFunction("deposit")(c.address, ENG));
    const ev = rc.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .find((l) => l?.name === "DepositSuccessful");
    expect(ev?.args[0]).toBe(u.address);
    expect(ev?.args[1]).toBe(ENG);
    expect(await stakeOf(env, c.address)).toBe(101n * ENG);
  });

  it("keeps the principal out of the worker set and caps the number of logged-in workers", async () => {
    const env = await setup(ethers, { workers: 0, epoch: false, root });
    const p = env.principalCustodian;
    await fund(env, p, ENG);
    await mined(as(env.enigma, p).getFunction("deposit")(p.address, ENG));
    expect((await revertOf(env, as(env.enigma, p).getFunction("login")())).name).toBe(
      "PrincipalCannotLogIn",
    );
    const signers = await ethers.getSigners();
    const extra = signers.slice(5, 16);
    for (const [i, s] of extra.entries()) {
      await register(env, s, new Wallet(`0x${(i + 100).toString(16).padStart(64, "0")}`).address);
      await fund(env, s, ENG);
      await mined(as(env.enigma, s).getFunction("deposit")(s.address, ENG));
      if (i < 10) await mined(as(env.enigma, s).getFunction("login")());
    }
    const last = extra[10];
    if (last === undefined) throw new Error();
    expect(await revertOf(env, as(env.enigma, last).getFunction("login")())).toEqual({
      name: "TooManyWorkers",
      args: [10n],
    });
  });
});
