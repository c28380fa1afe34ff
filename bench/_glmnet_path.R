# R glmnet on a pre-rotated LMM-Lasso problem: the peer of `lmmlasso fit --n-mu 100` in
# bench/speed.py (row 2). Only the glmnet() call is timed (system.time).
#
#     Rscript bench/_glmnet_path.R DIR
#
# DIR holds what `python bench/speed.py rotate` wrote: dims.txt ("n p n_lambda"), x.f64 (the
# n x p matrix X~ = P D U'X, float64, column-major), y.f64 (y~ = P D U'y) and lambda.f64 (the
# grid mu / n, decreasing). glmnet(family = "gaussian") minimizes
# 1/(2n) ||y~ - X~ b||^2 + lambda ||b||_1, i.e. our 1/2 ||y~ - X~ w||^2 + mu ||w||_1 divided by n.
# Writes DIR/beta.f64 (p x n_lambda, column-major) and prints one line of JSON on stdout.

args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
dims <- scan(file.path(dir, "dims.txt"), what = integer(), quiet = TRUE)
n <- dims[1]
p <- dims[2]
n_lambda <- dims[3]
x <- matrix(readBin(file.path(dir, "x.f64"), "double", n * p), n, p)
y <- readBin(file.path(dir, "y.f64"), "double", n)
lambda <- readBin(file.path(dir, "lambda.f64"), "double", n_lambda)
suppressPackageStartupMessages(library(glmnet))
# the whole grid: no early stop on a small change of deviance or a deviance ratio near 1
glmnet.control(fdev = 0, devmax = 1)
THRESH <- 1e-10
MAXIT <- 1e7
elapsed <- system.time(
  fit <- glmnet(x, y, family = "gaussian", lambda = lambda, standardize = FALSE,
                intercept = FALSE, thresh = THRESH, maxit = MAXIT)
)
beta <- as.matrix(fit$beta)
writeBin(as.vector(beta), file.path(dir, "beta.f64"))
cat(sprintf(paste0(
  '{"elapsed": %.6f, "user": %.6f, "system": %.6f, "n_lambda": %d, "npasses": %d, ',
  '"jerr": %d, "thresh": %g, "maxit": %g, "glmnet": "%s", "R": "%s"}\n'),
  elapsed[["elapsed"]], elapsed[["user.self"]], elapsed[["sys.self"]], ncol(beta),
  as.integer(fit$npasses), as.integer(fit$jerr), THRESH, MAXIT,
  as.character(packageVersion("glmnet")), R.version.string))
