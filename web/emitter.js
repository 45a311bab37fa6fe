// @ts-check
/** A minimal typed-enough event emitter shared by the socket, mesh and views. */

/**
 * @template {Record<string, any[]>} Events
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof Events, Set<Function>>} */
    this._listeners = new Map();
  }

  /**
   * Subscribe; returns a function that unsubscribes.
   * @template {keyof Events} K
   * @param {K} name
   * @param {(...args: Events[K]) => void} fn
   * @returns {() => void}
   */
  on(name, fn) {
    let set = this._listeners.get(name);
    if (!set) this._listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => set?.delete(fn);
  }

  /**
   * @template {keyof Events} K
   * @param {K} name
   * @param {Events[K]} args
   */
  emit(name, ...args) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        // One broken listener must not stop the others (or the socket loop).
        console.error(`listener for ${String(name)} failed`, err);
      }
    }
  }

  removeAll() {
    this._listeners.clear();
  }
}
