# Mould 2007 alemtuzumab PK/PD model solved per patient with R deSolve (lsoda).
#
# Used by benchmarks/bench_pk.py (speed) and tests/pk/test_desolve.py (an independent
# cross-check of the Python simulator). Same model as src/cllcds/pk/_model.py and
# shared/reference/pk-model.md section 2; each patient is integrated piecewise between the
# events (infusion starts and stops, SC doses), carrying the state across, as in the Python
# reference (cllcds.pk.reference_profiles).
#
# Usage:
#   Rscript scripts/r/pk_desolve.R PARAMS.csv DOSES.csv TIMES.csv OUT.csv [RTOL] [ATOL]
#
# PARAMS.csv: one row per patient with columns vmax,km,v1,v2,q,emax,ec50,kin,kout,ka,f,wexp
#             (units: mg/h, mg/L, L, L, L/h, -, mg/L, 10^9/L/h, 1/h, 1/h, -, -)
# DOSES.csv:  time_h,dose_mg,route,duration_h (route iv or sc)
# TIMES.csv:  one column time_h (output times)
# OUT.csv:    patient,time_h,conc_mg_per_l,wbc  (the value just before an event at that time)
# Prints "elapsed_s=<seconds>" and "cpu_s=<seconds>" (integration only, excluding file
# input/output).

suppressPackageStartupMessages(library(deSolve))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) stop("usage: pk_desolve.R PARAMS.csv DOSES.csv TIMES.csv OUT.csv [RTOL] [ATOL]")
params <- read.csv(args[1])
doses <- read.csv(args[2], stringsAsFactors = FALSE)
times <- sort(unique(read.csv(args[3])$time_h))
rtol <- if (length(args) >= 5) as.numeric(args[5]) else 1e-6
atol <- if (length(args) >= 6) as.numeric(args[6]) else 1e-9

t_end <- max(times)
iv <- doses$route == "iv"
bps <- sort(unique(c(0, t_end, doses$time_h[doses$time_h < t_end],
                     (doses$time_h + doses$duration_h)[iv & doses$time_h + doses$duration_h < t_end])))

rhs <- function(t, y, p) {
  c <- y[1] / p$v1
  cp <- max(c, 0)  # as in the Python model: identical for C >= 0
  vm <- p$vmax * (max(y[3], 1e-12) / 10)^p$wexp
  elim <- vm * c / (p$km + cp)
  absorbed <- p$ka * y[4]
  list(c(
    p$rate + absorbed - elim - p$q / p$v1 * y[1] + p$q / p$v2 * y[2],
    p$q / p$v1 * y[1] - p$q / p$v2 * y[2],
    p$kin - p$kout * (1 + p$emax * cp / (p$ec50 + cp)) * y[3],
    -absorbed
  ))
}

rate_at <- function(t0) {
  active <- iv & doses$time_h <= t0 & t0 < doses$time_h + doses$duration_h
  sum(doses$dose_mg[active] / doses$duration_h[active])
}
sc_at <- function(t0) sum(doses$dose_mg[!iv & doses$time_h == t0])

seg_rate <- vapply(bps[-length(bps)], rate_at, numeric(1))
seg_sc <- vapply(bps[-length(bps)], sc_at, numeric(1))

solve_patient <- function(p) {
  y <- c(0, 0, p$kin / p$kout, 0)
  out_c <- rep(NA_real_, length(times))
  out_w <- rep(NA_real_, length(times))
  out_c[times <= 0] <- 0
  out_w[times <= 0] <- y[3]
  for (k in seq_len(length(bps) - 1)) {
    t0 <- bps[k]
    t1 <- bps[k + 1]
    y[4] <- y[4] + p$f * seg_sc[k]
    p$rate <- seg_rate[k]
    inside <- times > t0 & times <= t1
    tt <- sort(unique(c(t0, times[inside], t1)))
    sol <- lsoda(y, tt, rhs, p, rtol = rtol, atol = atol)
    if (any(inside)) {
      idx <- match(times[inside], sol[, 1])
      out_c[inside] <- sol[idx, 2] / p$v1
      out_w[inside] <- sol[idx, 4]
    }
    y <- as.numeric(sol[nrow(sol), 2:5])
  }
  list(c = out_c, w = out_w)
}

n <- nrow(params)
res_c <- matrix(NA_real_, n, length(times))
res_w <- matrix(NA_real_, n, length(times))
started <- proc.time()
started_cpu <- started[["user.self"]] + started[["sys.self"]]
started <- started[["elapsed"]]
for (i in seq_len(n)) {
  p <- as.list(params[i, ])
  r <- solve_patient(p)
  res_c[i, ] <- r$c
  res_w[i, ] <- r$w
}
finished <- proc.time()
elapsed <- finished[["elapsed"]] - started
cpu <- finished[["user.self"]] + finished[["sys.self"]] - started_cpu

out <- data.frame(
  patient = rep(seq_len(n) - 1, each = length(times)),
  time_h = rep(times, times = n),
  conc_mg_per_l = as.vector(t(res_c)),
  wbc = as.vector(t(res_w))
)
write.csv(out, args[4], row.names = FALSE)
cat(sprintf("elapsed_s=%.4f\n", elapsed))
cat(sprintf("cpu_s=%.4f\n", cpu))
cat(sprintf("deSolve=%s R=%s\n", as.character(packageVersion("deSolve")), R.version.string))
