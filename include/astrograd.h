/* astrograd.h — the umbrella header: include this one. */
#ifndef ASTROGRAD_H
#define ASTROGRAD_H

#include "astrograd/tensor.h"
#include "astrograd/autograd.h"
#include "astrograd/op.h"
#include "astrograd/optim.h"
#include "astrograd/nn.h"
#include "astrograd/cuda.h"
#include "astrograd/imaging.h"

#endif
