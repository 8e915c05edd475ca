// Byte-compile a directory tree for CPython 3.12 with Pyodide's CPython 3.12 (WebAssembly, from the npm registry),
// so the build needs no native python3.12: `node scripts/pyc312.mjs DIR DDIR`. Bytecode does not depend on the
// platform, only on the interpreter's version (magic number 3531 for every 3.12.x). Prints "compiled N" and exits
// non-zero if a file failed to compile.
import { loadPyodide } from "pyodide";

const [dir, ddir] = process.argv.slice(2);
const py = await loadPyodide({ stdout: (s) => console.log(s), stderr: (s) => console.error(s) });
py.FS.mkdirTree("/tree");
py.FS.mount(py.FS.filesystems.NODEFS, { root: dir }, "/tree");
py.globals.set("ddir", ddir);
const failed = py.runPython(`
import compileall, py_compile, sys
assert sys.version_info[:2] == (3, 12), sys.version
ok = compileall.compile_dir("/tree", ddir=ddir, quiet=1, workers=1,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
not ok
`);
process.exit(failed ? 1 : 0);
