#!/usr/bin/env Rscript
# Reference values for cllcds.evidence (meta-analysis of single-arm proportions).
#
# Runs R metafor for every combination of
#   data set x measure (PR, PLO, PFT, PAS) x method (DL, REML, PM, EE) x test (z, knha)
# and records escalc(), rma(), predict() (with the back-transform), confint() (Q-profile),
# weights(), leave1out(), the per-study CIs (summary.escalc), the Clopper-Pearson CIs
# (binom.test), the Higgins-Thompson-Spiegelhalter prediction interval (by hand: HTS_CALL),
# the continuity-correction variants of escalc (add=, to=) and the subgroup analyses
# (separate rma() per subgroup; rma(mods = ~ factor(group)); Q-between of the subgroup
# estimates by rma(method = "EE")), and one fit where undamped REML Fisher scoring cycles.
#
# Usage (from the repository root):
#   Rscript scripts/r/metafor_reference.R [out.json]
# Default output: tests/evidence/data/metafor_reference.json
#
# Every R call that produced a stored number is kept, verbatim, in the JSON ("calls" of
# each case): the calls are built as text and run with eval(parse()), so the text is what
# ran. Numbers are written with 17 significant digits (sprintf("%.17g")) by the small JSON
# writer below (jsonlite caps at 15 digits); NA/NaN/Inf are written as null.
#
# Precision: metafor's defaults stop Fisher scoring (REML) at a change < 1e-5 and uniroot
# (PM, Q-profile) at tol = .Machine$double.eps^0.25 (about 1.2e-4): far coarser than the
# 1e-6 the Python port is held to. The calls therefore tighten the convergence criteria
# (CONTROL below); the estimates are the same ones, solved to (nearly) full precision
# (threshold=1e-15 fails to converge for some fits: the steps stall at rounding level).

suppressPackageStartupMessages(library(metafor))

args <- commandArgs(trailingOnly = TRUE)
out_path <- if (length(args) >= 1L) args[1L] else "tests/evidence/data/metafor_reference.json"

CONTROL <- "list(threshold=1e-14, maxiter=10000, tol=1e-12)"  # rma(): REML, PM convergence
CI_CONTROL <- "list(tol=1e-12)"                               # confint(): Q-profile uniroot

# ---------------------------------------------------------------------------------------
# A minimal JSON writer with full double precision.
# ---------------------------------------------------------------------------------------
A <- function(x) structure(x, json_array = TRUE)  # force a JSON array (even of length 1)

json_str <- function(s) {
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  paste0("\"", s, "\"")
}

json_atoms <- function(x) {
  if (is.character(x)) return(ifelse(is.na(x), "null", json_str(x)))
  if (is.logical(x)) return(ifelse(is.na(x), "null", ifelse(x, "true", "false")))
  if (is.numeric(x)) {
    x <- as.numeric(x)
    return(ifelse(is.finite(x), sprintf("%.17g", x), "null"))
  }
  stop("cannot write ", class(x)[1], " as JSON")
}

to_json <- function(x, indent = 0L) {
  pad <- strrep(" ", indent + 2L)
  end <- strrep(" ", indent)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0L) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, character(1), indent = indent + 2L)
    if (!is.null(names(x))) {
      items <- paste0(json_str(names(x)), ": ", items)
      return(paste0("{\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "}"))
    }
    return(paste0("[\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  atoms <- json_atoms(unname(x))
  if (length(x) == 1L && !isTRUE(attr(x, "json_array"))) return(atoms)
  paste0("[", paste(atoms, collapse = ", "), "]")
}

# ---------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------
mk <- function(study, xi, ni, group = NULL, note) {
  d <- data.frame(study = study, xi = xi, ni = ni, stringsAsFactors = FALSE)
  if (!is.null(group)) d$group <- group
  list(data = d, note = note)
}

datasets <- list()

# (1) Table 1 of the review: alemtuzumab monotherapy, overall response (OR) as counts.
#     Counts are the number evaluable times the printed OR % rounded to a whole patient;
#     Stilgenbauer 18/50 (36%, printed 37%) is an approximation.
datasets$table1 <- mk(
  study = c("Osterborg 1997", "Rai 2002", "Keating 2002", "McCune 2002", "Ferrajoli 2003",
            "Lozanski 2004", "Stilgenbauer 2004", "Moreton 2005", "Cortelezzi 2005"),
  xi = c(12, 8, 31, 9, 13, 10, 18, 49, 8),
  ni = c(29, 24, 93, 17, 42, 36, 50, 91, 16),
  group = c("iv", "iv", "iv", "iv", "iv", "iv", "sc", "iv", "sc"),
  note = paste("Review Table 1 (monotherapy), overall response; counts from the printed",
               "percentages; Stilgenbauer 18/50 is an approximation; group = route (iv/sc).")
)

# (2) Table 2 of the review: alemtuzumab combinations, overall response as counts.
datasets$table2 <- mk(
  study = c("Kennedy 2002", "Faderl 2003", "Nabhan 2004", "Montillo 2007", "Elter 2005",
            "Faderl 2006", "Wierda 2006"),
  xi = c(5, 20, 1, 15, 30, 16, 48),
  ni = c(6, 32, 12, 18, 36, 32, 74),
  note = "Review Table 2 (combinations), overall response; counts from the printed percentages."
)

# Tables 1 and 2 together, grouped by monotherapy vs combination.
datasets$mono_vs_combo <- mk(
  study = c(datasets$table1$data$study, datasets$table2$data$study),
  xi = c(datasets$table1$data$xi, datasets$table2$data$xi),
  ni = c(datasets$table1$data$ni, datasets$table2$data$ni),
  group = rep(c("monotherapy", "combination"), c(9, 7)),
  note = "Tables 1 and 2 together; group = monotherapy or combination."
)

# (3) Complete response (CR) counts, with zero-event studies (continuity correction).
#     Counts from the printed CR % rounded to a whole patient (approximate).
datasets$cr <- mk(
  study = c("Osterborg 1997", "Rai 2002", "Keating 2002", "McCune 2002", "Ferrajoli 2003",
            "Lozanski 2004", "Stilgenbauer 2004", "Nabhan 2004", "Kennedy 2002", "Faderl 2003"),
  xi = c(1, 0, 2, 6, 2, 2, 2, 0, 1, 2),
  ni = c(29, 24, 93, 17, 42, 36, 50, 12, 6, 32),
  note = paste("Complete response counts from the printed CR percentages (approximate);",
               "Rai 0/24 and Nabhan 0/12 exercise the continuity correction.")
)

# (4a) Edge cases: an all-events study (n/n) and a zero-events study in one set.
datasets$edge <- mk(
  study = c("All events", "No events", "Study C", "Study D", "Study E"),
  xi = c(12, 0, 7, 18, 30),
  ni = c(12, 10, 15, 25, 40),
  note = "Synthetic: one study with all events (12/12) and one with none (0/10)."
)

# (4b) A homogeneous set: Q < k - 1 under every measure, so tau^2 = 0 for every method.
datasets$homogeneous <- mk(
  study = c("H1", "H2", "H3", "H4", "H5"),
  xi = c(20, 21, 19, 20, 22),
  ni = c(50, 52, 48, 49, 55),
  note = "Synthetic: near-identical proportions, tau^2 truncated at 0 by every estimator."
)

# (4c) Two studies only: the smallest analysable set (HTS prediction interval undefined).
datasets$pair <- mk(
  study = c("P1", "P2"),
  xi = c(5, 30),
  ni = c(20, 45),
  note = "Synthetic: k = 2 (Knapp-Hartung with 1 df; the HTS interval needs k >= 3)."
)

# (5) 25 random studies, generated with a fixed seed (the generated counts are stored).
RNGversion("4.0.0")
set.seed(20240607)
rk <- 25L
r_ni <- sample(10:120, rk, replace = TRUE)
r_pi <- plogis(rnorm(rk, mean = qlogis(0.4), sd = 0.6))
r_xi <- rbinom(rk, r_ni, r_pi)
r_group <- sample(rep(c("A", "B", "C"), length.out = rk))
datasets$random25 <- mk(
  study = sprintf("R%02d", seq_len(rk)),
  xi = r_xi, ni = r_ni, group = r_group,
  note = paste("set.seed(20240607); ni <- sample(10:120, 25, replace=TRUE);",
               "pi <- plogis(rnorm(25, qlogis(0.4), 0.6)); xi <- rbinom(25, ni, pi);",
               "group <- sample(rep(c('A','B','C'), length.out=25))")
)

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
MEASURES <- c("PR", "PLO", "PFT", "PAS")
METHODS <- c("DL", "REML", "PM", "EE")
TESTS <- c("z", "knha")

data_call <- function(d) {
  s <- sprintf(
    "d <- data.frame(study=c(%s), xi=c(%s), ni=c(%s)",
    paste(json_str(d$study), collapse = ", "),
    paste(d$xi, collapse = ", "), paste(d$ni, collapse = ", ")
  )
  if (!is.null(d$group)) s <- paste0(s, sprintf(", group=c(%s)", paste(json_str(d$group), collapse = ", ")))
  paste0(s, ")")
}

# transf= (and targs=) for predict(): metafor's back-transforms.
pred_transf <- function(measure, ni_expr) {
  switch(measure,
    PR = "",
    PLO = ", transf=transf.ilogit",
    PFT = sprintf(", transf=transf.ipft.hm, targs=list(ni=%s)", ni_expr),
    PAS = ", transf=transf.iarcsin"
  )
}

# transf= for summary.escalc(): the per-study CIs (PFT with each study's own n).
study_transf <- function(measure) {
  switch(measure,
    PR = "",
    PLO = ", transf=transf.ilogit",
    PFT = ", transf=transf.ipft, ni=dat$ni",
    PAS = ", transf=transf.iarcsin"
  )
}

# The back-transform as a function (for the by-hand HTS interval and leave-one-out).
back <- function(measure, x, ni) {
  switch(measure,
    PR = x,
    PLO = transf.ilogit(x),
    PFT = transf.ipft.hm(x, targs = list(ni = ni)),
    PAS = transf.iarcsin(x)
  )
}

# Warnings are silenced: rma() warns that Knapp-Hartung "is not meant to be used" with EE
# models, which are run on purpose; errors still stop the script.
run <- function(calls, env) {
  for (cl in calls) suppressWarnings(eval(parse(text = cl), envir = env))
  invisible(env)
}

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)  # NULL (e.g. no PI) -> NA

# Higgins-Thompson-Spiegelhalter (2009) prediction interval: t with k - 2 df and
# sqrt(tau^2 + SE^2). predict.rma() in metafor 3.8 has no such option (its pi.type="t" and
# "riley" are tied to test="t"/"knha" and k - p or k - p - 1 df), so it is computed by hand
# from the fitted model (res$level holds alpha, 0.05, not 95; SE is the model's SE of the
# estimate, Knapp-Hartung scaled if test="knha"); undefined (null) when k < 3, and not
# given for the common-effect (EE) model, for which predict.rma() gives no PI either.
HTS_CALL <- paste(
  "hts <- if (res$k >= 3 && res$method != \"EE\")",
  "c(res$b) + c(-1, 1) * qt(1 - res$level / 2, df=res$k - 2) * sqrt(res$tau2 + res$se^2)",
  "else c(NA, NA)"
)

fit_record <- function(res) {
  list(
    k = res$k, b = num(res$b), se = res$se, zval = res$zval, pval = res$pval,
    ci_lb = res$ci.lb, ci_ub = res$ci.ub, ddf = if (is.null(res$ddf)) NA else num(res$ddf),
    tau2 = res$tau2, se_tau2 = res$se.tau2, QE = res$QE, QEp = res$QEp,
    I2 = res$I2, H2 = res$H2, vt = res$vt
  )
}

pred_record <- function(p) {
  list(pred = num(p$pred), ci_lb = num(p$ci.lb), ci_ub = num(p$ci.ub),
       pi_lb = num(p$pi.lb), pi_ub = num(p$pi.ub))
}

# ---------------------------------------------------------------------------------------
# Pooled analyses: every data set x measure x method x test
# ---------------------------------------------------------------------------------------
pool_cases <- list()
for (dname in names(datasets)) {
  d <- datasets[[dname]]$data
  for (measure in MEASURES) for (method in METHODS) for (test in TESTS) {
    id <- paste(dname, measure, method, test, sep = "-")
    calls <- c(
      "library(metafor)",
      data_call(d),
      sprintf("dat <- escalc(measure=\"%s\", xi=xi, ni=ni, data=d, slab=study)", measure),
      sprintf("res <- rma(yi, vi, data=dat, method=\"%s\", test=\"%s\", level=95, control=%s)",
              method, test, CONTROL),
      "pred_t <- predict(res)",
      sprintf("pred <- predict(res%s)", pred_transf(measure, "dat$ni")),
      HTS_CALL,
      "w <- weights(res)",
      sprintf("st <- summary(dat%s)", study_transf(measure)),
      "l1o <- if (res$k >= 3) leave1out(res) else NULL"
    )
    if (method != "EE") {
      calls <- c(calls, sprintf("ci <- confint(res, control=%s)", CI_CONTROL))
    }
    env <- new.env()
    run(calls, env)
    res <- env$res
    rec <- list(
      id = id, dataset = dname, measure = measure, method = method, knha = test == "knha",
      calls = A(calls),
      escalc = list(yi = A(num(env$dat$yi)), vi = A(num(env$dat$vi))),
      fit = fit_record(res),
      predict_t = pred_record(env$pred_t),
      predict = pred_record(env$pred),
      hts_t = A(num(env$hts)),
      hts = A(back(measure, num(env$hts), d$ni)),
      weights = A(num(env$w)),
      study = list(est = A(num(env$st$yi)), ci_lb = A(num(env$st$ci.lb)), ci_ub = A(num(env$st$ci.ub)))
    )
    if (method != "EE") {
      r <- env$ci$random
      rec$confint <- list(
        tau2 = A(num(r["tau^2", ])), tau = A(num(r["tau", ])),
        I2 = A(num(r["I^2(%)", ])), H2 = A(num(r["H^2", ]))
      )
    }
    if (!is.null(env$l1o)) {
      l <- env$l1o
      rec$leave1out <- list(
        estimate = A(num(l$estimate)), se = A(num(l$se)), ci_lb = A(num(l$ci.lb)),
        ci_ub = A(num(l$ci.ub)), Q = A(num(l$Q)), Qp = A(num(l$Qp)),
        tau2 = A(if (is.null(l$tau2)) rep(0, length(l$estimate)) else num(l$tau2)),
        I2 = A(num(l$I2)), H2 = A(num(l$H2))
      )
      # leave1out() keeps the full data's yi/vi and has no per-fit targs, so the
      # back-transformed leave-one-out rows come from refitting with subset=-i and the
      # remaining studies' n (the harmonic mean for PFT): the same fits as leave1out().
      loo_call <- sprintf(paste(
        "loo <- lapply(seq_len(res$k), function(i) { ri <- rma(yi, vi, data=dat, subset=-i,",
        "method=\"%s\", test=\"%s\", level=95, control=%s); list(res=ri,",
        "pred=predict(ri%s)) })"), method, test, CONTROL, pred_transf(measure, "dat$ni[-i]"))
      rec$calls <- A(c(calls, loo_call))
      run(loo_call, env)
      rec$leave1out$pred <- A(vapply(env$loo, function(o) num(o$pred$pred), 0))
      rec$leave1out$pred_ci_lb <- A(vapply(env$loo, function(o) num(o$pred$ci.lb), 0))
      rec$leave1out$pred_ci_ub <- A(vapply(env$loo, function(o) num(o$pred$ci.ub), 0))
      rec$leave1out$pred_pi_lb <- A(vapply(env$loo, function(o) num(o$pred$pi.lb), 0))
      rec$leave1out$pred_pi_ub <- A(vapply(env$loo, function(o) num(o$pred$pi.ub), 0))
    }
    pool_cases[[id]] <- rec
  }
}

# ---------------------------------------------------------------------------------------
# Continuity-correction variants of escalc (add=, to=) with an REML fit
# ---------------------------------------------------------------------------------------
cc_cases <- list()
CC <- list(
  list(add = NULL, to = "only0"), list(add = "1/2", to = "only0"), list(add = "1/2", to = "all"),
  list(add = "1/2", to = "if0all"), list(add = "1/4", to = "only0"), list(add = NULL, to = "none")
)
for (dname in c("cr", "edge", "table2")) {
  d <- datasets[[dname]]$data
  for (measure in MEASURES) for (cc in CC) {
    zero <- any(d$xi == 0 | d$xi == d$ni)
    # Without a correction, a 0 or n/n study has vi = 0 (PR) or yi = +-Inf (PLO): no fit.
    if (cc$to == "none" && zero && measure %in% c("PR", "PLO")) next
    add_arg <- if (is.null(cc$add)) "" else sprintf(", add=%s", cc$add)
    id <- paste(dname, measure, if (is.null(cc$add)) "default" else cc$add, cc$to, sep = "-")
    calls <- c(
      "library(metafor)",
      data_call(d),
      sprintf("dat <- escalc(measure=\"%s\", xi=xi, ni=ni, data=d, slab=study%s, to=\"%s\")",
              measure, add_arg, cc$to),
      sprintf("res <- rma(yi, vi, data=dat, method=\"REML\", level=95, control=%s)", CONTROL),
      sprintf("pred <- predict(res%s)", pred_transf(measure, "dat$ni"))
    )
    env <- new.env()
    run(calls, env)
    cc_cases[[id]] <- list(
      id = id, dataset = dname, measure = measure,
      add = if (is.null(cc$add)) NA else eval(parse(text = cc$add)), to = cc$to,
      calls = A(calls),
      escalc = list(yi = A(num(env$dat$yi)), vi = A(num(env$dat$vi))),
      fit = fit_record(env$res), predict = pred_record(env$pred)
    )
  }
}

# ---------------------------------------------------------------------------------------
# Damped Fisher scoring: on these data undamped REML steps cycle and rma() stops with
# "Fisher scoring algorithm did not converge"; metafor's remedy control=list(stepadj=0.5)
# converges (cllcds damps its steps the same way when they cycle).
# ---------------------------------------------------------------------------------------
stepadj_cases <- list()
cyc <- mk(
  study = c("C1", "C2", "C3", "C4", "C5", "C6"), xi = c(0, 0, 0, 0, 0, 0),
  ni = c(10, 1, 1, 1, 1, 1),
  note = "Synthetic: undamped REML Fisher scoring cycles (raw proportions)."
)$data
for (measure in c("PR")) {
  id <- paste("cycling", measure, "REML-stepadj", sep = "-")
  calls <- c(
    "library(metafor)",
    data_call(cyc),
    sprintf("dat <- escalc(measure=\"%s\", xi=xi, ni=ni, data=d, slab=study)", measure),
    "fails <- inherits(try(rma(yi, vi, data=dat, method=\"REML\"), silent=TRUE), \"try-error\")",
    sprintf(paste("res <- rma(yi, vi, data=dat, method=\"REML\", level=95,",
                  "control=list(threshold=1e-14, maxiter=10000, stepadj=0.5))")),
    sprintf("pred <- predict(res%s)", pred_transf(measure, "dat$ni"))
  )
  env <- new.env()
  run(calls, env)
  stopifnot(env$fails)
  stepadj_cases[[id]] <- list(
    id = id, measure = measure, study = A(cyc$study), xi = A(cyc$xi), ni = A(cyc$ni),
    calls = A(calls), undamped_fails = env$fails,
    fit = fit_record(env$res), predict = pred_record(env$pred)
  )
}

# ---------------------------------------------------------------------------------------
# Subgroups: separate rma() per subgroup, the mixed-effects model with ~ factor(group),
# and the fixed-effect Q-between of the subgroup estimates.
# ---------------------------------------------------------------------------------------
subgroup_cases <- list()
for (dname in c("table1", "mono_vs_combo", "random25")) {
  d <- datasets[[dname]]$data
  for (measure in MEASURES) for (method in METHODS) for (test in TESTS) {
    id <- paste(dname, measure, method, test, sep = "-")
    calls <- c(
      "library(metafor)",
      data_call(d),
      sprintf("dat <- escalc(measure=\"%s\", xi=xi, ni=ni, data=d, slab=study)", measure),
      sprintf(paste("mod <- rma(yi, vi, mods = ~ factor(group), data=dat, method=\"%s\",",
                    "test=\"%s\", level=95, control=%s)"), method, test, CONTROL),
      "groups <- sort(unique(dat$group))",
      sprintf(paste("sub <- lapply(groups, function(g) { ri <- rma(yi, vi, data=dat,",
                    "subset=group==g, method=\"%s\", test=\"%s\", level=95, control=%s);",
                    "list(res=ri, pred=predict(ri%s)) })"),
              method, test, CONTROL, pred_transf(measure, "dat$ni[dat$group==g]")),
      "est <- sapply(sub, function(s) c(s$res$b)); sei <- sapply(sub, function(s) s$res$se)",
      "between <- rma(est, sei=sei, method=\"EE\")"
    )
    env <- new.env()
    run(calls, env)
    mod <- env$mod
    subs <- lapply(seq_along(env$groups), function(j) {
      s <- env$sub[[j]]
      c(list(group = env$groups[j]), fit_record(s$res), list(predict = pred_record(s$pred)))
    })
    subgroup_cases[[id]] <- list(
      id = id, dataset = dname, measure = measure, method = method, knha = test == "knha",
      calls = A(calls),
      moderator = list(
        QM = mod$QM, QMdf = A(num(mod$QMdf)), QMp = mod$QMp, tau2 = mod$tau2,
        I2 = mod$I2, H2 = mod$H2, QE = mod$QE, QEp = mod$QEp, QEdf = mod$k - mod$p
      ),
      subgroups = subs,
      between = list(Q = env$between$QE, df = env$between$k - 1, p = env$between$QEp)
    )
  }
}

# ---------------------------------------------------------------------------------------
# Clopper-Pearson CIs (binom.test) for every study of every data set
# ---------------------------------------------------------------------------------------
data_out <- lapply(names(datasets), function(dname) {
  d <- datasets[[dname]]$data
  cp <- t(mapply(function(x, n) binom.test(x, n, conf.level = 0.95)$conf.int, d$xi, d$ni))
  out <- list(
    note = datasets[[dname]]$note, study = A(d$study), xi = A(d$xi), ni = A(d$ni),
    cp_lb = A(num(cp[, 1])), cp_ub = A(num(cp[, 2]))
  )
  if (!is.null(d$group)) out$group <- A(d$group)
  out
})
names(data_out) <- names(datasets)

result <- list(
  meta = list(
    r_version = R.version.string,
    metafor_version = as.character(packageVersion("metafor")),
    script = "scripts/r/metafor_reference.R",
    rma_control = CONTROL,
    confint_control = CI_CONTROL,
    clopper_pearson_call = "binom.test(xi, ni, conf.level=0.95)$conf.int",
    hts_call = HTS_CALL
  ),
  datasets = data_out,
  pool_cases = unname(pool_cases),
  cc_cases = unname(cc_cases),
  subgroup_cases = unname(subgroup_cases),
  stepadj_cases = unname(stepadj_cases)
)

dir.create(dirname(out_path), recursive = TRUE, showWarnings = FALSE)
writeLines(to_json(result), out_path, useBytes = TRUE)
cat("wrote", out_path, ":", length(pool_cases), "pool cases,", length(cc_cases), "cc cases,",
    length(subgroup_cases), "subgroup cases\n")
