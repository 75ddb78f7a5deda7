"""The RM service on LitServe: both APIs (:mod:`wrl_lightning.serving.apis`) on one model, batched.

Process layout (LitServe's): the HTTP front end validates each request, turns it into a
:class:`~wrl_lightning.serving.apis.ScoreJob` and queues it; an inference worker (one per device ×
``workers_per_device``, each holding its own :class:`~wrl_lightning.scoring.resident.ResidentRM`) takes up to
``max_batch_size`` queued requests — whatever arrived within ``batch_timeout`` seconds of the first, from
either API — and scores all their (response, requirement) pairs in one ``score_pairs`` call (which batches
them by ``batch_size`` rows / ``max_tokens`` tokens). Both APIs share one request queue through a LitServe
spec, so one model copy serves both, and a malformed request is refused before it can fail a batch.
Each batch is logged by the worker: ``scored batch: N requests, S samples, P pairs in T s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from fastapi import HTTPException
from litserve import LitAPI, LitServer
from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem

from wrl_lightning.serving.apis import OpenRLHFRequest, ScoreJob, WRLRequest

log = logging.getLogger(__name__)


class RewardSpec(LitSpec):
    """The two HTTP endpoints of the service, both feeding the one :class:`RewardAPI` queue.

    ``paths`` maps each API of :data:`~wrl_lightning.serving.apis.APIS` to its URL path; ``strip`` are the
    strings removed from both ends of an OpenRLHF query before the prompt is cut off.
    """

    def __init__(self, paths: dict[str, str], strip: tuple[str, ...] = ()):
        super().__init__()
        self.paths, self.strip = dict(paths), tuple(strip)
        self.api_path = self.paths["wrl"]  # names the request queue

    def pre_setup(self, lit_api: LitAPI) -> None:
        self.add_endpoint(self.paths["wrl"], self.wrl, ["POST"])
        self.add_endpoint(self.paths["openrlhf"], self.openrlhf, ["POST"])

    def decode_request(self, request: ScoreJob, context_kwargs: dict | None = None) -> ScoreJob:
        return request

    def encode_response(self, output: list[float], context_kwargs: dict | None = None) -> list[float]:
        return output

    async def wrl(self, request: WRLRequest) -> dict[str, Any]:
        """The paper's RL-service API (see :class:`~wrl_lightning.serving.apis.WRLRequest`)."""
        return request.reply(await self.score(request.job()))

    async def openrlhf(self, request: OpenRLHFRequest) -> dict[str, Any]:
        """OpenRLHF's remote-RM API (see :class:`~wrl_lightning.serving.apis.OpenRLHFRequest`)."""
        try:
            job = request.job(self.strip)
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return request.reply(await self.score(job))

    async def score(self, job: ScoreJob) -> list[float]:
        """Queue ``job`` for the inference worker and wait for its rewards."""
        uid, event = uuid.uuid4(), asyncio.Event()
        self.response_buffer[uid] = ResponseBufferItem(event=event)
        self.request_queue.put((self.response_queue_id, uid, time.monotonic(), job))
        await event.wait()
        response, status = self.response_buffer.pop(uid).response
        if status == LitAPIStatus.ERROR:
            if isinstance(response, HTTPException):
                raise response
            log.error("scoring failed: %r", response)
            raise HTTPException(status_code=500, detail="the RM failed on this batch (see the server log)")
        return response


class RewardAPI(LitAPI):
    """The inference worker: a resident RM (loaded on ``setup``) scoring batches of :class:`ScoreJob`.

    ``options`` go to :meth:`ResidentRM.load` (template, head, max_length, precision, batch_size, max_tokens,
    round_decimals, packing, trust_remote_code).
    """

    def __init__(self, model: str, options: dict[str, Any], spec: RewardSpec, max_batch_size: int = 16,
                 batch_timeout: float = 0.01):
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, spec=spec)
        self.model_name, self.options = model, dict(options)
        self.rm = None

    def setup(self, device: str) -> None:
        from wrl_lightning.scoring.resident import ResidentRM

        logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
        self.rm = ResidentRM.load(self.model_name, device=device, **self.options)
        log.info("RM %s ready on %s", self.model_name, device)

    def predict(self, jobs: list[ScoreJob] | ScoreJob) -> list[list[float]] | list[float]:
        """Mean RM score per response of each job (one job when batching is off)."""
        if isinstance(jobs, ScoreJob):
            return self.score_jobs([jobs])[0]
        return self.score_jobs(jobs)

    def score_jobs(self, jobs: list[ScoreJob]) -> list[list[float]]:
        """Each job's rewards: the mean score of each response over its requirements, all jobs in one call."""
        started = time.perf_counter()
        responses = [response for job in jobs for response in job.responses]
        means = self.rm.mean_scores(responses, [texts for job in jobs for texts in job.requirements])
        rewards, start = [], 0
        for job in jobs:
            rewards.append(means[start:start + len(job.responses)])
            start += len(job.responses)
        log.info("scored batch: %d requests, %d samples, %d pairs in %.3f s", len(jobs), len(responses),
                 sum(len(texts) for job in jobs for texts in job.requirements), time.perf_counter() - started)
        return rewards


def build_server(model: str, options: dict[str, Any], paths: dict[str, str], strip: tuple[str, ...] = (),
                 max_batch_size: int = 16, batch_timeout: float = 0.01, request_timeout: float = 120.0,
                 accelerator: str = "auto", devices: int | str = 1, workers_per_device: int = 1) -> LitServer:
    """A LitServer for the RM at ``model`` (not started: call ``.run(host=..., port=...)``)."""
    spec = RewardSpec(paths, strip)
    api = RewardAPI(model, options, spec, max_batch_size=max_batch_size, batch_timeout=batch_timeout)
    return LitServer(api, accelerator=accelerator, devices=devices, workers_per_device=workers_per_device,
                     timeout=request_timeout)
