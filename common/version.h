#pragma once

namespace hearth {
inline constexpr char kSoftware[] = "hearth";
inline constexpr char kVersion[] = "0.1.0";
}  // namespace hearth
