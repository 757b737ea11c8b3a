#include "storage/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "storage/table.h"
#include "storage/txn.h"
#include "tests/support/temp_dir.h"

namespace hearth::storage {
namespace {

struct Note {
  std::string text;
  std::uint64_t n = 0;
  template <class A>
  void serialize(A& ar, std::uint32_t) {
    ar(text, n);
  }
};

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({}); }
  void Open(EnvOptions options) {
    env_.reset();
    auto env = Env::Open(dir_.path(), options);
    ASSERT_TRUE(env) << env.error().message;
    env_ = std::move(env).value();
    auto t = Table<Note>::Open(*env_, "notes");
    ASSERT_TRUE(t);
    notes_ = *t;
  }
  std::optional<Note> Read(const std::string& key) {
    auto txn = env_->BeginRead();
    EXPECT_TRUE(txn);
    auto v = notes_.Get(*txn, key);
    EXPECT_TRUE(v);
    return *v;
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<Env> env_;
  Table<Note> notes_;
};

TEST_F(EnvTest, CommittedWritesAreVisibleAndSurviveReopen) {
  ASSERT_TRUE(env_->Update([&](WriteTxn& txn) {
    return notes_.Put(txn, "k", Note{"hello", 7});
  }));
  EXPECT_EQ(Read("k")->text, "hello");
  Open({});
  auto n = Read("k");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->n, 7u);
}

TEST_F(EnvTest, UncommittedTransactionAbortsInItsDestructor) {
  {
    auto txn = env_->BeginWrite();
    ASSERT_TRUE(txn);
    ASSERT_TRUE(notes_.Put(*txn, "k", Note{"lost", 1}));
  }
  EXPECT_FALSE(Read("k"));
  // A failing Update leaves nothing behind either.
  Status s = env_->Update([&](WriteTxn& txn) -> Status {
    HEARTH_RETURN_IF_ERROR(notes_.Put(txn, "k", Note{"lost", 1}));
    return Error::Invalid("nope", "changed my mind");
  });
  EXPECT_FALSE(s);
  EXPECT_FALSE(Read("k"));
}

TEST_F(EnvTest, InsertRefusesExistingKeys) {
  ASSERT_TRUE(env_->Update([&](WriteTxn& txn) {
    return notes_.Insert(txn, "k", Note{"a", 1});
  }));
  Status s = env_->Update([&](WriteTxn& txn) {
    return notes_.Insert(txn, "k", Note{"b", 2});
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().reason, "exists");
  EXPECT_EQ(Read("k")->text, "a");
}

TEST_F(EnvTest, NestedTransactionAbortTakesOnlyItsOwnWrites) {
  ASSERT_TRUE(env_->Update([&](WriteTxn& txn) -> Status {
    HEARTH_RETURN_IF_ERROR(notes_.Put(txn, "outer", Note{"kept", 1}));
    {
      auto child = txn.BeginNested();
      EXPECT_TRUE(child);
      HEARTH_RETURN_IF_ERROR(notes_.Put(*child, "inner", Note{"gone", 2}));
    }  // aborted
    auto child = txn.BeginNested();
    EXPECT_TRUE(child);
    HEARTH_RETURN_IF_ERROR(notes_.Put(*child, "inner2", Note{"kept", 3}));
    return child->Commit();
  }));
  EXPECT_TRUE(Read("outer"));
  EXPECT_FALSE(Read("inner"));
  EXPECT_TRUE(Read("inner2"));
}

TEST_F(EnvTest, CursorWalksKeysInOrder) {
  ASSERT_TRUE(env_->Update([&](WriteTxn& txn) -> Status {
    for (std::string k : {"b", "d", "a", "c"})
      HEARTH_RETURN_IF_ERROR(notes_.Put(txn, k, Note{k, 0}));
    return Ok();
  }));
  auto txn = env_->BeginRead();
  ASSERT_TRUE(txn);
  auto c = Cursor::Open(*txn, notes_.dbi());
  ASSERT_TRUE(c);
  std::string seen;
  for (auto more = c->Seek("b"); more && *more; more = c->Next())
    seen += std::string(c->key());
  EXPECT_EQ(seen, "bcd");
  ASSERT_TRUE(*c->Last());
  EXPECT_EQ(c->key(), "d");
}

TEST_F(EnvTest, ReusedReadTransactionsSeeTheLatestCommit) {
  ASSERT_TRUE(env_->Update([&](WriteTxn& txn) -> Status {
    return notes_.Put(txn, "k", Note{"one", 1});
  }));
  {
    // More readers at once than the Env keeps idle.
    std::vector<ReadTxn> readers;
    for (int i = 0; i < 40; ++i) {
      auto txn = env_->BeginRead();
      ASSERT_TRUE(txn) << txn.error().message;
      readers.push_back(std::move(*txn));
    }
    ASSERT_TRUE(env_->Update([&](WriteTxn& txn) -> Status {
      return notes_.Put(txn, "k", Note{"two", 2});
    }));
    // Each still reads its own snapshot.
    for (auto& r : readers) EXPECT_EQ(notes_.Get(r, "k")->value().n, 1u);
  }
  // A reader renewed from the pool starts from the newest commit.
  for (int i = 0; i < 40; ++i) EXPECT_EQ(Read("k")->n, 2u);
}

TEST_F(EnvTest, AnUnsyncedCommitIsShownOnlyToLatestReadsUntilSynced) {
  auto id = env_->UpdateUnsynced([&](WriteTxn& txn) -> Status {
    return notes_.Put(txn, "k", Note{"soon", 1});
  });
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_LT(env_->durable_id(), *id);
  {
    // A decision-only read sees it and does not wait for the disk.
    auto latest = env_->BeginRead(Env::View::kLatest);
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->id(), *id);
    EXPECT_EQ(notes_.Get(*latest, "k")->value().n, 1u);
    EXPECT_LT(env_->durable_id(), *id);
  }
  // A read whose snapshot holds it syncs first.
  auto durable = env_->BeginRead();
  ASSERT_TRUE(durable);
  EXPECT_EQ(durable->id(), *id);
  EXPECT_GE(env_->durable_id(), *id);
}

TEST_F(EnvTest, SyncCoversEveryEarlierCommit) {
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto id = env_->UpdateUnsynced([&](WriteTxn& txn) -> Status {
      return notes_.Put(txn, "k" + std::to_string(i), Note{"x", 0});
    });
    ASSERT_TRUE(id);
    EXPECT_GT(*id, last);
    last = *id;
  }
  EXPECT_LT(env_->durable_id(), last);
  ASSERT_TRUE(env_->Sync(last - 2));  // one fdatasync: all three are on disk
  EXPECT_EQ(env_->durable_id(), last);
  ASSERT_TRUE(env_->Sync(last));
}

TEST_F(EnvTest, ACommitThatChangesNothingTakesNoIdOfItsOwn) {
  auto before = env_->UpdateUnsynced([&](WriteTxn& txn) -> Status {
    return notes_.Put(txn, "k", Note{"x", 0});
  });
  ASSERT_TRUE(before);
  ASSERT_TRUE(env_->Sync(*before));
  auto empty = env_->UpdateUnsynced([](WriteTxn&) -> Status { return Ok(); });
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, *before);
  // Had the empty commit claimed the next id, this one would look synced.
  auto next = env_->UpdateUnsynced([&](WriteTxn& txn) -> Status {
    return notes_.Put(txn, "k", Note{"y", 0});
  });
  ASSERT_TRUE(next);
  EXPECT_GT(*next, *before);
  EXPECT_LT(env_->durable_id(), *next);
}

TEST_F(EnvTest, AFailedFlushIsFinalUntilTheStoreIsOpenedAgain) {
  bool fail = false;
  EnvOptions options;
  options.fdatasync_for_tests = [&fail](int fd) {
    if (!fail) return ::fdatasync(fd);
    errno = EIO;
    return -1;
  };
  Open(options);
  auto put = [&](const std::string& key) {
    return env_->UpdateUnsynced([&](WriteTxn& txn) {
      return notes_.Put(txn, key, Note{key, 1});
    });
  };
  auto first = put("a");
  ASSERT_TRUE(first);
  fail = true;
  Status synced = env_->Sync(*first);
  ASSERT_FALSE(synced);
  EXPECT_EQ(synced.error().reason, "storage_sync_failed");
  // The disk answers again, but a second flush would not say what the
  // kernel dropped: nothing is called durable any more.
  fail = false;
  auto second = put("b");
  ASSERT_TRUE(second);
  EXPECT_EQ(env_->Sync(*second).error().reason, "storage_sync_failed");
  EXPECT_EQ(env_->Update([&](WriteTxn& txn) {
                  return notes_.Put(txn, "c", Note{"c", 1});
                })
                .error()
                .reason,
            "storage_sync_failed");
  // A durable read of a snapshot that is not on disk fails too; one of
  // the latest view still answers.
  EXPECT_FALSE(env_->BeginRead());
  EXPECT_TRUE(env_->BeginRead(Env::View::kLatest));
  // Opened again (a restart), the store syncs and serves what it holds.
  Open({});
  EXPECT_EQ(Read("b")->text, "b");
}

TEST_F(EnvTest, TheFileIsWrittenAheadOfTheLastPage) {
  EnvOptions options;
  options.write_ahead_bytes = 1 << 20;
  Open(options);
  std::string big(3000, 'x');
  // 3 MiB in 1,000 records: the zeros run out and are written again.
  for (int batch = 0; batch < 20; ++batch) {
    ASSERT_TRUE(env_->Update([&](WriteTxn& txn) -> Status {
      for (int i = 0; i < 50; ++i)
        HEARTH_RETURN_IF_ERROR(notes_.Put(
            txn, "k" + std::to_string(batch * 50 + i), Note{big, 0}));
      return Ok();
    }));
    EnvStats s = env_->Stats();
    // At most one transaction (50 pages here) past the last check.
    EXPECT_GE(s.file_bytes + (256 << 10), s.used_bytes + (512 << 10))
        << "batch " << batch;
  }
  EXPECT_GE(env_->Stats().used_bytes, std::uint64_t(3) << 20);
  // The zeros past the last page are no concern of LMDB's.
  Open(options);
  for (int i = 0; i < 1000; i += 99) {
    auto v = Read("k" + std::to_string(i));
    ASSERT_TRUE(v) << i;
    EXPECT_EQ(v->text, big);
  }
}

TEST_F(EnvTest, FullMapGrowsInsteadOfFailing) {
  EnvOptions small;
  small.initial_map_bytes = 256 << 10;  // 256 KiB
  small.max_map_bytes = 64 << 20;
  hearth::testing::TempDir other;
  auto env = Env::Open(other.path(), small);
  ASSERT_TRUE(env);
  auto t = Table<Note>::Open(**env, "notes");
  ASSERT_TRUE(t);
  std::string big(4000, 'x');
  // 8 MiB in 2,000 records, 100 per transaction: far past 256 KiB.
  for (int batch = 0; batch < 20; ++batch) {
    Status s = (*env)->Update([&](WriteTxn& txn) -> Status {
      for (int i = 0; i < 100; ++i) {
        HEARTH_RETURN_IF_ERROR(
            t->Put(txn, "k" + std::to_string(batch * 100 + i), Note{big, 0}));
      }
      return Ok();
    });
    ASSERT_TRUE(s) << s.error().message;
    // A read between growths leaves a reset reader in the Env's pool.
    auto reader = (*env)->BeginRead();
    ASSERT_TRUE(reader);
    auto first = t->Get(*reader, "k0");
    ASSERT_TRUE(first && *first);
  }
  EXPECT_GE((*env)->Stats().map_bytes, std::uint64_t(8) << 20);
  auto txn = (*env)->BeginRead();
  ASSERT_TRUE(txn);
  auto last = t->Get(*txn, "k1999");
  ASSERT_TRUE(last && *last);
}

TEST_F(EnvTest, GrowthStopsAtTheConfiguredMaximum) {
  EnvOptions tiny;
  tiny.initial_map_bytes = 256 << 10;
  tiny.max_map_bytes = 512 << 10;
  hearth::testing::TempDir other;
  auto env = Env::Open(other.path(), tiny);
  ASSERT_TRUE(env);
  auto t = Table<Note>::Open(**env, "notes");
  ASSERT_TRUE(t);
  Status s = (*env)->Update([&](WriteTxn& txn) -> Status {
    for (int i = 0; i < 1000; ++i)
      HEARTH_RETURN_IF_ERROR(t->Put(txn, "k" + std::to_string(i),
                                    Note{std::string(4000, 'x'), 0}));
    return Ok();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().reason, "storage_full");
}

TEST_F(EnvTest, CorruptRecordIsAnErrorNotACrash) {
  ASSERT_TRUE(env_->Update(
      [&](WriteTxn& txn) { return txn.Put(notes_.dbi(), "bad", "\x01\x02"); }));
  auto txn = env_->BeginRead();
  ASSERT_TRUE(txn);
  auto v = notes_.Get(*txn, "bad");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("corrupt record"), std::string::npos);
}

}  // namespace
}  // namespace hearth::storage
