// The explorer page: the state the devnet's process pushes (server-sent events), rendered with
// Preact; charts with uPlot. Views are picked by the URL's hash (#/tasks, #/task/<id>,
// #/epochs, #/workers, #/contracts, #/charts) so that a view can be linked to.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type {
  ContractView,
  EpochView,
  ExplorerState,
  GodContractView,
  GodTaskView,
  TaskView,
  WorkerView,
} from "../src/model.js";
import { Chart } from "./chart.js";

const short = (h: string | null | undefined, n = 10) =>
  h === null || h === undefined ? "" : h.length > n + 4 ? `${h.slice(0, n)}…` : h;
const ms = (x: number) => `${x.toFixed(1)} ms`;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/tasks");
  useEffect(() => {
    const on = () => {
      setHash(location.hash || "#/tasks");
    };
    addEventListener("hashchange", on);
    return () => {
      removeEventListener("hashchange", on);
    };
  }, []);
  return hash;
}

/** The state pushed by the server; `live` says whether the stream is connected. */
function useExplorerState(): { state: ExplorerState | undefined; live: boolean } {
  const [state, setState] = useState<ExplorerState | undefined>();
  const [live, setLive] = useState(false);
  useEffect(() => {
    const source = new EventSource("/api/stream");
    source.onopen = () => {
      setLive(true);
    };
    source.onerror = () => {
      setLive(false);
    };
    source.onmessage = (m: MessageEvent<string>) => {
      setState(JSON.parse(m.data) as ExplorerState);
      setLive(true);
    };
    return () => {
      source.close();
    };
  }, []);
  return { state, live };
}

function App() {
  const { state, live } = useExplorerState();
  const hash = useHash();
  if (state === undefined) return <p class="muted">connecting to the devnet…</p>;
  const [, view = "tasks", arg] = hash.split("/");
  const tabs = ["tasks", "epochs", "workers", "contracts", "charts"];
  const epoch = state.epochs.at(-1);
  return (
    <>
      <header>
        <h1>Enigma devnet</h1>
        <span data-testid="block">block {state.chain.block}</span>
        <span>epoch {epoch?.index ?? "–"}</span>
        <span>chain {state.chain.chainId}</span>
        <span class={live ? "ok" : "bad"} data-testid="live">
          {live ? "live" : "disconnected"}
        </span>
        <span class={state.godMode ? "god on" : "god"}>
          god mode {state.godMode ? "on" : "off"}
        </span>
        <span class="nodes">
          {state.nodes.map((n) => (
            <span key={n.name} class={n.up === false ? "chip bad" : "chip"} title={n.rpcUrl ?? ""}>
              {n.name}
            </span>
          ))}
        </span>
      </header>
      <nav>
        {tabs.map((t) => (
          <a
            key={t}
            href={`#/${t}`}
            class={view === t || (view === "task" && t === "tasks") ? "on" : ""}
          >
            {t}
          </a>
        ))}
      </nav>
      <main>
        {view === "task" && arg !== undefined ? (
          <TaskDetail state={state} taskId={arg} />
        ) : view === "epochs" ? (
          <Epochs epochs={state.epochs} />
        ) : view === "workers" ? (
          <Workers workers={state.workers} />
        ) : view === "contracts" ? (
          <Contracts contracts={state.contracts} god={state.godMode} />
        ) : view === "charts" ? (
          <Charts state={state} />
        ) : (
          <Tasks tasks={state.tasks} />
        )}
      </main>
    </>
  );
}

function Tasks({ tasks }: { tasks: TaskView[] }) {
  const [q, setQ] = useState("");
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    if (needle === "") return tasks;
    return tasks.filter(
      (t) =>
        t.taskId.includes(needle) ||
        t.sender.toLowerCase().includes(needle) ||
        (t.contract ?? "").includes(needle),
    );
  }, [tasks, q]);
  return (
    <section>
      <input
        type="search"
        placeholder="search by task id, sender or contract"
        value={q}
        onInput={(e) => {
          setQ((e.target as HTMLInputElement).value);
        }}
        data-testid="search"
      />
      <table data-testid="tasks">
        <thead>
          <tr>
            <th>task</th>
            <th>kind</th>
            <th>contract</th>
            <th>sender</th>
            <th>block</th>
            <th>status on chain</th>
            <th>worker</th>
            <th>stages</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => (
            <tr key={t.taskId}>
              <td>
                <a href={`#/task/${t.taskId}`} class="mono">
                  {short(t.taskId, 14)}
                </a>
              </td>
              <td>{t.kind ?? ""}</td>
              <td class="mono">{short(t.contract)}</td>
              <td class="mono">{short(t.sender)}</td>
              <td>{t.block}</td>
              <td class={`status s${t.status}`}>{t.statusName}</td>
              <td>{t.worker ?? ""}</td>
              <td>{t.stages.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 ? <p class="muted">no task matches</p> : null}
    </section>
  );
}

function TaskDetail({ state, taskId }: { state: ExplorerState; taskId: string }) {
  const t = state.tasks.find((x) => x.taskId === taskId.toLowerCase());
  if (t === undefined) return <p class="muted">task {taskId} is not known (yet)</p>;
  const first = t.stages[0]?.at ?? 0;
  const lastOnNode = new Map<string, number>();
  return (
    <section data-testid="task-detail">
      <h2 class="mono">task {t.taskId}</h2>
      <dl>
        <dt>status on chain</dt>
        <dd data-testid="task-status">
          {t.status} ({t.statusName})
        </dd>
        <dt>kind</dt>
        <dd>{t.kind ?? "unknown"}</dd>
        <dt>contract</dt>
        <dd class="mono">{t.contract ?? ""}</dd>
        <dt>sender</dt>
        <dd class="mono">{t.sender}</dd>
        <dt>recorded in block</dt>
        <dd>{t.block}</dd>
        <dt>worker</dt>
        <dd data-testid="task-worker">{t.worker ?? "not run yet"}</dd>
        <dt>gas</dt>
        <dd>
          limit {t.gasLimit}, used {t.gasUsed ?? "–"}, price {t.gasPx} grains
        </dd>
        <dt>fee (grains)</dt>
        <dd data-testid="task-fee">
          {t.fee.total} escrowed; {t.fee.worker ?? "–"} to the worker, {t.fee.refund ?? "–"} back to
          the sender
        </dd>
      </dl>
      <h3>lifecycle on every node</h3>
      <table data-testid="stages">
        <thead>
          <tr>
            <th>time</th>
            <th>node</th>
            <th>stage</th>
            <th>gap on node</th>
            <th>detail</th>
          </tr>
        </thead>
        <tbody>
          {t.stages.map((s, i) => {
            const prev = lastOnNode.get(s.node);
            lastOnNode.set(s.node, s.at);
            return (
              <tr key={i} class={`stage ${s.stage}`}>
                <td>+{ms(s.at - first)}</td>
                <td>{s.node}</td>
                <td>{s.stage}</td>
                <td>{prev === undefined ? "" : `+${ms(s.at - prev)}`}</td>
                <td class="mono small">
                  {Object.entries(s.detail ?? {})
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(" ")}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <GodTask taskId={t.taskId} enabled={state.godMode} />
    </section>
  );
}

function GodTask({ taskId, enabled }: { taskId: string; enabled: boolean }) {
  const [data, setData] = useState<GodTaskView | { error: string } | undefined>();
  if (!enabled) {
    return (
      <p class="muted" data-testid="god-off">
        god mode is off on this devnet (the enclaves' debug interface is closed)
      </p>
    );
  }
  const load = async () => {
    const res = await fetch(`/api/god/task/${taskId}`);
    const body = (await res.json()) as GodTaskView | { error: { message: string } };
    setData("error" in body ? { error: body.error.message } : body);
  };
  return (
    <div class="god-panel" data-testid="god-task">
      <h3>god mode: inside the enclave</h3>
      <button
        onClick={() => {
          void load();
        }}
      >
        decrypt input and output
      </button>
      {data === undefined ? null : "error" in data ? (
        <p class="bad">{data.error}</p>
      ) : (
        <dl>
          <dt>decrypted by</dt>
          <dd>{data.node}'s enclave</dd>
          <dt>function</dt>
          <dd class="mono" data-testid="god-fn">
            {data.fn}
          </dd>
          <dt>arguments</dt>
          <dd class="mono" data-testid="god-args">
            {data.decodedArgs?.join(", ") ?? data.args}
          </dd>
          <dt>output</dt>
          <dd class="mono" data-testid="god-output">
            {data.outputUint256 ?? data.outputText ?? data.output ?? "(none yet)"}
          </dd>
          <dt>output bytes</dt>
          <dd class="mono small">{data.output ?? ""}</dd>
        </dl>
      )}
    </div>
  );
}

function Epochs({ epochs }: { epochs: EpochView[] }) {
  const contracts = [...new Set(epochs.flatMap((e) => Object.keys(e.holders)))];
  return (
    <section class="scroll">
      <table data-testid="epochs" class="timeline">
        <thead>
          <tr>
            <th>epoch</th>
            {epochs.map((e) => (
              <th key={e.index}>
                {e.index}
                <div class="small muted">block {e.firstBlock}</div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            <th>seed</th>
            {epochs.map((e) => (
              <td key={e.index} class="mono small" title={e.seed}>
                {short(e.seed, 8)}
              </td>
            ))}
          </tr>
          <tr>
            <th>workers (stake ENG)</th>
            {epochs.map((e) => (
              <td key={e.index} class="small">
                {e.workers.map((w) => (
                  <div key={w.signer}>
                    {w.name} ({w.stake})
                  </div>
                ))}
              </td>
            ))}
          </tr>
          {contracts.map((c) => (
            <tr key={c}>
              <th class="mono small" title={c}>
                {short(c)}
              </th>
              {epochs.map((e, i) => {
                const holder = e.holders[c];
                const before = i === 0 ? undefined : epochs[i - 1]?.holders[c];
                const handover = holder !== undefined && before !== undefined && before !== holder;
                return (
                  <td
                    key={e.index}
                    class={handover ? "handover" : ""}
                    title={handover ? `hand-over from ${before}` : ""}
                  >
                    {holder ?? ""}
                    {handover ? " ⇐" : ""}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">
        Each contract row names the worker selected for it in each epoch; a highlighted cell is a
        hand-over.
      </p>
    </section>
  );
}

function Workers({ workers }: { workers: WorkerView[] }) {
  return (
    <section>
      <table data-testid="workers">
        <thead>
          <tr>
            <th>worker</th>
            <th>signer</th>
            <th>status</th>
            <th>stake (ENG)</th>
            <th>fees earned (ENG)</th>
            <th>tasks run</th>
            <th>pending receipts</th>
            <th>MRENCLAVE</th>
            <th>report</th>
            <th>devnet policy</th>
          </tr>
        </thead>
        <tbody>
          {workers.map((w) => (
            <tr key={w.name}>
              <td>{w.name}</td>
              <td class="mono">{short(w.signer)}</td>
              <td>{w.status}</td>
              <td>{w.stake}</td>
              <td>{w.feesEarned}</td>
              <td>{w.tasksRun}</td>
              <td>{w.pendingReceipts}</td>
              <td class="mono" title={w.attestation.mrenclave ?? ""}>
                {short(w.attestation.mrenclave, 12)}
              </td>
              <td>{w.attestation.status ?? "?"}</td>
              <td
                class={w.attestation.passesPolicy ? "ok" : "bad"}
                title={w.attestation.reason ?? ""}
              >
                {w.attestation.passesPolicy ? "passes" : `fails (${w.attestation.reason ?? "?"})`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Contracts({ contracts, god }: { contracts: ContractView[]; god: boolean }) {
  const [open, setOpen] = useState<string | undefined>();
  return (
    <section>
      <table data-testid="contracts">
        <thead>
          <tr>
            <th>contract</th>
            <th>owner</th>
            <th>code hash</th>
            <th>deployed in block</th>
            <th>deltas</th>
            <th>nodes agree</th>
          </tr>
        </thead>
        <tbody>
          {contracts.map((c) => {
            const agree = c.deltas.every((d) => Object.values(d.nodes).every((h) => h === d.chain));
            return [
              <tr key={c.address}>
                <td>
                  <a
                    class="mono"
                    href="#/contracts"
                    onClick={(e) => {
                      e.preventDefault();
                      setOpen(open === c.address ? undefined : c.address);
                    }}
                  >
                    {short(c.address, 14)}
                  </a>
                </td>
                <td class="mono">{short(c.owner)}</td>
                <td class="mono">{short(c.codeHash)}</td>
                <td>{c.deployedBlock ?? ""}</td>
                <td>{c.deltaCount}</td>
                <td class={agree ? "ok" : "bad"}>{agree ? "yes" : "no"}</td>
              </tr>,
              open === c.address ? (
                <tr key={`${c.address}-d`}>
                  <td colSpan={6}>
                    <ContractDetail c={c} god={god} />
                  </td>
                </tr>
              ) : null,
            ];
          })}
        </tbody>
      </table>
    </section>
  );
}

function ContractDetail({ c, god }: { c: ContractView; god: boolean }) {
  const nodes = Object.keys(c.nodeCodeHashes);
  const [state, setState] = useState<GodContractView | { error: string } | undefined>();
  return (
    <div class="detail">
      <table class="small">
        <thead>
          <tr>
            <th>delta</th>
            <th>hash on chain</th>
            {nodes.map((n) => (
              <th key={n}>{n}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {c.deltas.map((d) => (
            <tr key={d.index}>
              <td>{d.index}</td>
              <td class="mono">{short(d.chain, 14)}</td>
              {nodes.map((n) => {
                const h = d.nodes[n];
                return (
                  <td key={n} class={h === d.chain ? "ok" : "bad"}>
                    {h === null || h === undefined ? "missing" : h === d.chain ? "same" : short(h)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {god ? (
        <div class="god-panel">
          <button
            onClick={() => {
              void fetch(`/api/god/contract/${c.address}`)
                .then((r) => r.json())
                .then((b: GodContractView | { error: { message: string } }) => {
                  setState("error" in b ? { error: b.error.message } : b);
                });
            }}
          >
            god mode: decrypted state
          </button>
          {state === undefined ? null : "error" in state ? (
            <p class="bad">{state.error}</p>
          ) : (
            <table class="small" data-testid="god-state">
              <caption>
                after {state.deltas} deltas, from {state.node}'s enclave
              </caption>
              <tbody>
                {state.entries.map((e) => (
                  <tr key={e.key}>
                    <td class="mono">{e.key}</td>
                    <td class="mono">{e.value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ) : null}
    </div>
  );
}

function Charts({ state }: { state: ExplorerState }) {
  const s = state.series;
  const stages = Object.keys(s.stageSeconds).sort();
  const latency = stages.map((k) =>
    (s.stageSeconds[k] ?? []).map((v) => (v === null ? null : v * 1000)),
  );
  return (
    <section class="charts">
      <h3>tasks executed per second</h3>
      <Chart title="tasks/s" t={s.t} series={[{ label: "tasks/s", values: s.tasksPerSecond }]} />
      <h3>latency per stage (ms since the task's previous event on the node)</h3>
      <Chart
        title="ms"
        t={s.t}
        series={stages.map((k, i) => ({ label: k, values: latency[i] ?? [] }))}
      />
    </section>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
