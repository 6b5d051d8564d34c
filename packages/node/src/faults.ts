// TEST FAULTS: points in the node's code where a devnet's nemesis can make it crash or freeze
// at an exact moment (issue 16). Timing a SIGKILL from outside on an observed event cannot
// land between two statements of the node, for instance after a task's input is stored and
// before the enclave runs it; a point armed here can. The node reaches its points whatever
// happens: unarmed, a point costs one Map lookup. Armed only through the admin endpoint's
// fault methods (`admin.faults`), which only devnets turn on.
import { EnigmaError, ErrorCode } from "@enigma/protocol";

/**
 * Where a fault can be placed:
 * - `task-stored`: a worker stored a task's input and record (status INPROGRESS) and is about
 *   to hand it to its enclave. A crash here must rerun the task after a restart, in order.
 */
export const FAULT_POINTS = ["task-stored"] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/**
 * What happens at an armed point: `crash` is SIGKILL of this process by itself (exactly what a
 * kill from outside at that instant does: no handler runs, nothing is flushed); `pause` is
 * SIGSTOP (alive, silent, until the nemesis sends SIGCONT).
 */
export const FAULT_ACTIONS = ["crash", "pause"] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

export interface ArmedFault {
  point: FaultPoint;
  action: FaultAction;
  /** Reaches that pass before the action (0: the next one acts). */
  skip: number;
}

/** How an action is carried out (tests replace it; the node's default signals its own process). */
export type FaultActuator = (action: FaultAction, point: FaultPoint, context: string) => void;

const signalSelf: FaultActuator = (action) => {
  process.kill(process.pid, action === "crash" ? "SIGKILL" : "SIGSTOP");
};

export class FaultPoints {
  readonly #armed = new Map<FaultPoint, ArmedFault>();
  readonly #actuate: FaultActuator;
  /** Called when an armed point acts, before the action (a log line that may be the last). */
  onFire: ((fault: ArmedFault, context: string) => void) | undefined;

  constructor(actuate: FaultActuator = signalSelf) {
    this.#actuate = actuate;
  }

  /**
   * Arms `point`: after `skip` reaches, the next one carries out `action` (once; the point is
   * disarmed first). Replaces an earlier arming of the same point.
   * @throws FaultSpecInvalid for an unknown point or action, or a bad skip count.
   */
  arm(point: string, action: string, skip = 0): ArmedFault {
    if (!(FAULT_POINTS as readonly string[]).includes(point)) {
      throw new EnigmaError(
        ErrorCode.FaultSpecInvalid,
        `unknown fault point "${point}" (known: ${FAULT_POINTS.join(", ")})`,
        { details: { point } },
      );
    }
    if (!(FAULT_ACTIONS as readonly string[]).includes(action)) {
      throw new EnigmaError(
        ErrorCode.FaultSpecInvalid,
        `unknown fault action "${action}" (known: ${FAULT_ACTIONS.join(", ")})`,
        { details: { action } },
      );
    }
    if (!Number.isSafeInteger(skip) || skip < 0) {
      throw new EnigmaError(ErrorCode.FaultSpecInvalid, "skip must be a whole number", {
        details: { skip },
      });
    }
    const fault: ArmedFault = {
      point: point as FaultPoint,
      action: action as FaultAction,
      skip,
    };
    this.#armed.set(fault.point, fault);
    return { ...fault };
  }

  disarm(): void {
    this.#armed.clear();
  }

  armed(): ArmedFault[] {
    return [...this.#armed.values()].map((f) => ({ ...f }));
  }

  /** Whether `point` is armed (a caller may make sure of what the point promises first). */
  isArmed(point: FaultPoint): boolean {
    return this.#armed.has(point);
  }

  /** The node passes `point` (`context`: a task id...). */
  reach(point: FaultPoint, context = ""): void {
    const fault = this.#armed.get(point);
    if (fault === undefined) return;
    if (fault.skip > 0) {
      fault.skip--;
      return;
    }
    this.#armed.delete(point);
    this.onFire?.({ ...fault }, context);
    this.#actuate(fault.action, point, context);
  }
}
