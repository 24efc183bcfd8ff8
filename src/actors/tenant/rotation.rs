//! Refresh-rotation batching: rotations that arrive while a commit runs are written
//! together in the next one (see [`TenantState::rotations`]).

use ractor::{ActorProcessingErr, ActorRef, RpcReplyPort};

use super::TenantState;
use super::messages::TenantMsg;
use crate::store::sessions::{self, Rotation};
use crate::store::{StoreError, StoreResult};

/// Most rotations one transaction carries; more wait for the next.
const MAX_ROTATION_BATCH: usize = 64;

impl TenantState {
    /// Queues a rotation ([`TenantMsg::Rotate`]); writes the queue at once when it is full.
    pub(super) async fn queue_rotation(
        &mut self,
        me: &ActorRef<TenantMsg>,
        rotation: Box<Rotation>,
        reply: RpcReplyPort<StoreResult<()>>,
    ) -> Result<(), ActorProcessingErr> {
        // The flush lands behind every rotation already in the mailbox.
        if self.rotations.is_empty() {
            me.send_message(TenantMsg::FlushRotations)?;
        }
        self.rotations.push((*rotation, reply));
        if self.rotations.len() >= MAX_ROTATION_BATCH {
            self.flush_rotations().await;
        }
        Ok(())
    }

    /// Writes the queued rotations in one transaction and answers their callers.
    pub(super) async fn flush_rotations(&mut self) {
        if self.rotations.is_empty() {
            return;
        }
        let (batch, replies): (Vec<Rotation>, Vec<_>) =
            std::mem::take(&mut self.rotations).into_iter().unzip();
        let result = sessions::rotate_batch(&self.shared.db, &batch).await;
        // A touched session's cached row holds the old `last_seen_at`; read it again.
        for r in batch.iter().filter(|r| r.touch_session) {
            self.shared.cache.forget_session(&r.old.session);
        }
        match result {
            Ok(done) => {
                for (ok, reply) in done.into_iter().zip(replies) {
                    let _ = reply.send(if ok {
                        Ok(())
                    } else {
                        Err(StoreError::Precondition(
                            "refresh token already used".into(),
                        ))
                    });
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
