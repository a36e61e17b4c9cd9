"""pytest plugin of the CUDA emulation (tools/cuda_emu/README.md): `pytest -p lamina_cuda_emu`.

Before lamina is imported, installs the emulated lamina._cuda that tools/cuda_emu/run.sh builds
(build/cuda_emu/_cuda<suffix>, or the file LAMINA_CUDA_EMU_MODULE names) in place of any real
one, and checks that ``import cupy`` finds the numpy-backed stand-in next to this file. The
emulated runtime reports one device, so lamina.cuda.is_available() is true and the GPU tests run.
"""
import importlib.util
import os
import pathlib
import sys
import sysconfig

_HERE = pathlib.Path(__file__).resolve().parent
_ROOT = _HERE.parents[2]


def _module_path():
    path = os.environ.get("LAMINA_CUDA_EMU_MODULE")
    if path:
        return pathlib.Path(path)
    return _ROOT / "build" / "cuda_emu" / ("_cuda" + sysconfig.get_config_var("EXT_SUFFIX"))


def _install():
    if "lamina" in sys.modules:
        raise RuntimeError("lamina_cuda_emu: lamina was imported before the plugin could put "
                           "the emulated lamina._cuda in place; load it with -p lamina_cuda_emu")
    import cupy
    if pathlib.Path(cupy.__file__).resolve().parent != _HERE / "cupy":
        raise RuntimeError(f"lamina_cuda_emu: `import cupy` found {cupy.__file__}, not the "
                           f"stand-in in {_HERE / 'cupy'}: put {_HERE} first on PYTHONPATH")
    path = _module_path()
    if not path.exists():
        raise RuntimeError(f"lamina_cuda_emu: no emulated module at {path}; "
                           "tools/cuda_emu/run.sh builds it")
    spec = importlib.util.spec_from_file_location("lamina._cuda", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["lamina._cuda"] = module
    import lamina
    lamina._cuda = module
    return path, pathlib.Path(lamina.__file__).parent


_MODULE, _LAMINA = _install()


def pytest_report_header(config):
    return [f"lamina: {_LAMINA}; lamina._cuda: CPU emulation of the CUDA kernels, {_MODULE} "
            "(tools/cuda_emu)"]
