"""A cohort comparison on a local Dask cluster gives the same result as one worker."""

from __future__ import annotations

import numpy as np
import pytest

from cllcds.cohort import load_example, report, run_cohort

distributed = pytest.importorskip("distributed")


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_local_cluster_matches_serial(processes):
    sc = load_example("mono_vs_combination")
    serial = run_cohort(sc, 20_000, 4, workers=1)
    with distributed.LocalCluster(
        n_workers=2, processes=processes, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        done: list[int] = []
        on_dask = run_cohort(
            sc, 20_000, 4, scheduler=cluster.scheduler_address, progress=lambda d, t: done.append(d)
        )
    assert on_dask.backend == "dask"
    assert done[-1] == on_dask.chunks
    for arm in sc.arms:
        assert np.array_equal(serial.arms[arm.id].counts, on_dask.arms[arm.id].counts)
        assert np.array_equal(serial.arms[arm.id].tfs_hist, on_dask.arms[arm.id].tfs_hist)
    doc = report(on_dask, curves=False)
    assert doc["arms"][1]["vs_first_arm"]["orr"]["difference"] > 0.3  # FluCam vs monotherapy


def test_bad_scheduler_address_is_a_user_error():
    from cllcds.domain import InputError

    with pytest.raises(InputError) as err:
        run_cohort(load_example("iv_vs_sc"), 100, 1, scheduler="tcp://127.0.0.1:9")
    assert err.value.field == "--scheduler"
