"""A plain data file written by HDF5 2.0 (h5py==3.16.0) with libver="latest": its filtered
chunked datasets carry data layout messages of version 5. Appends its row to MANIFEST.tsv; run
after gen_h5.py."""

import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REL = "benign/hdf5_2_0_filters_latest.h5"
with h5py.File(os.path.join(HERE, REL), "w", libver="latest", track_order=False) as f:
    g = f.create_group("model_weights/dense/dense")
    g.create_dataset("kernel:0", data=np.arange(64, dtype="f4").reshape(8, 8), chunks=(4, 4),
                     compression="gzip", shuffle=True, fletcher32=True)
    g.create_dataset("bias:0", data=np.zeros(8, "f4"), compression="lzf")
    g.create_dataset("offsets", data=np.arange(20, dtype="i4"), scaleoffset=0, chunks=(10,))
    g.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
    f.attrs["layer_names"] = np.array([b"dense"])
with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as m:
    m.write(f"{REL}\tbenign\thdf5-2.0\tHDF5 2.0 libver=latest file: gzip, lzf and scale-offset "
            "chunked datasets (data layout message version 5)\n")

# Datatypes HDF5 2.0 writes natively (complex), references, opaque, vlen, ordered dense attributes.
for lib in ["earliest", "latest"]:
    rel = f"benign/hdf5_2_0_types_{lib}.h5"
    with h5py.File(os.path.join(HERE, rel), "w", libver=lib) as f:
        f.create_dataset("c64", data=np.ones(4, np.complex64))
        f.attrs["c128"] = np.complex128(1 + 2j)
        f.create_dataset("f16", data=np.ones(4, np.float16))
        f.create_dataset("b", data=np.array([True, False]))
        f.create_dataset("vlen", data=np.array([np.arange(3), np.arange(5)], dtype=object),
                         dtype=h5py.vlen_dtype("i4"))
        f.attrs["ref"] = f["f16"].ref
        f.create_dataset("arr", data=np.zeros(2, dtype=np.dtype(("f4", (3,)))))
        f.attrs["opaque"] = np.void(b"\x01\x02\x03")
        g = f.create_group("ordered", track_order=True)
        for i in range(20):
            g.attrs[f"a{i}"] = i
    with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as m:
        m.write(f"{rel}\tbenign\thdf5-2.0\tHDF5 2.0 libver={lib}: complex, float16, bool, vlen, "
                "object reference, array, opaque and 20 ordered attributes\n")
