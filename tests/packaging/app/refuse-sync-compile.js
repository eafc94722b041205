// Preloaded with `node --import`: WebAssembly.Module refuses buffers over
// 4 KB with a RangeError, as older Chromium's main thread does; the
// asynchronous WebAssembly.instantiate still works.
const Module = WebAssembly.Module;
function Refusing(bytes, ...rest) {
  if ((bytes?.byteLength ?? 0) > 4096) {
    throw new RangeError("WebAssembly.Module(): synchronous compilation of a buffer over 4 KB is disallowed on the main thread");
  }
  return new Module(bytes, ...rest);
}
Refusing.prototype = Module.prototype;
WebAssembly.Module = Refusing;
