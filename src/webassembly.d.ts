// The slice of the WebAssembly JS API piosim uses (src/exit/atomic-kernel.ts). The project's
// tsconfig has no DOM lib, and @types/node 20 does not declare the WebAssembly namespace.
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  type ExportValue = ((...args: number[]) => number | undefined) | Memory;
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, Memory>>);
    readonly exports: Record<string, ExportValue>;
  }
}
