-- Claims look only at open jobs: without this, each claim walked every finished job of
-- its kind and sorted them (measured: 760 claims/s at 10,000 jobs; 5,385 with it).
CREATE INDEX jobs_open ON jobs(kind, run_at) WHERE status IN ('queued', 'running');
