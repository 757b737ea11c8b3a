#include "common/metrics.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

TEST(MetricsTest, GaugeSeriesFromSeveralOwnersAreReadWhenRendering) {
  Metrics metrics;
  double member = 3, admin = 0;
  metrics.GaugeSeries("in_flight", "Now.", {{"listener", "member"}},
                      [&] { return member; });
  metrics.GaugeSeries("in_flight", "Now.", {{"listener", "admin"}},
                      [&] { return admin; });
  std::string text = metrics.Render();
  EXPECT_NE(text.find("# TYPE in_flight gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("in_flight{listener=\"member\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("in_flight{listener=\"admin\"} 0\n"), std::string::npos);
  member = 1;  // read again at each render
  EXPECT_NE(metrics.Render().find("in_flight{listener=\"member\"} 1\n"),
            std::string::npos);
  // Whole numbers as integers, others as the shortest exact text.
  for (auto [value, text] : {std::pair{20.0, "20"},
                             {1234567.0, "1234567"},
                             {-3.0, "-3"},
                             {0.0005, "0.0005"},
                             {2.5, "2.5"}}) {
    member = value;
    EXPECT_NE(metrics.Render().find(
                  std::string("in_flight{listener=\"member\"} ") + text + "\n"),
              std::string::npos)
        << text << "\n"
        << metrics.Render();
  }
  // The same labels again: the newer reader replaces the older.
  metrics.GaugeSeries("in_flight", "Now.", {{"listener", "admin"}},
                      [] { return 7.0; });
  text = metrics.Render();
  EXPECT_NE(text.find("in_flight{listener=\"admin\"} 7\n"), std::string::npos);
  EXPECT_EQ(text.find("in_flight{listener=\"admin\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace hearth
