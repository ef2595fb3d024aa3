#pragma once
// Winograd F(4x4, 3x3) kernels for 3x3 stride-1 convolutions (see winograd.cpp).
#include "engine/backend.h"

namespace mmp::cpu {

bool winograd_applies(const ConvGeometry& g);

// Points of the transformed domain: the 6x6 input tile.
constexpr int kWinogradPoints = 36;

// u[36][co][c] = G g Gᵀ for every filter g = w[co][c]: shared by forward and backward-input.
template <class T>
void winograd_filter_transform(const T* w, const ConvGeometry& g, T* u);
template <class T>
void winograd_forward(const T* x, const T* u, T* y, const ConvGeometry& g);
template <class T>
void winograd_backward_input(const T* gy, const T* u, T* gx, const ConvGeometry& g);
template <class T>
void winograd_backward_weight(const T* x, const T* gy, T* gw, const ConvGeometry& g);

}  // namespace mmp::cpu
