//! Action goals of types loaded at run time ([`DynamicAction`]), through
//! rcl_action's client on the graph node. Each step (send the goal, take
//! its answer, its feedback, its result; cancel) is one short call under the
//! node's lock; what the client takes is kept by request or goal until the
//! goal's own caller asks for it, so goals of one action never steal each
//! other's answers. The goal's life (the ledger, the events a skill waits
//! on) is `crate::actions`'s, as for the types compiled in.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;

use r2r_actions as rcla;
use r2r_rcl as rcl;
use serde_json::{json, Value as Json};

use super::{check, GraphNode, PublishError, RclError, WaitSet, WaitSizes};
use crate::dynamic::DynamicAction;

/// A goal's id (`unique_identifier_msgs/UUID`).
pub type GoalUuid = [u8; 16];

/// A goal of a run-time action type the server has accepted: what cancels it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynGoal {
    /// The action's name.
    pub action: String,
    /// Its type.
    pub type_name: String,
    /// The goal's id.
    pub uuid: GoalUuid,
}

/// How a goal ended, as its result request's answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalEnd {
    /// `action_msgs/msg/GoalStatus`'s status (4 succeeded, 5 canceled, 6 aborted).
    pub status: i8,
    /// The result's fields.
    pub result: Json,
}

/// The rcl_action client of one action name, and what it took so far.
pub(super) struct DynActionClient {
    handle: Box<rcla::rcl_action_client_t>,
    action: DynamicAction,
    /// Goal answers (accepted or not), by the request's sequence number.
    goal_answers: HashMap<i64, bool>,
    /// Results, by the result request's sequence number.
    results: HashMap<i64, GoalEnd>,
    /// Feedback of the goals being followed, oldest first.
    feedback: HashMap<GoalUuid, Vec<Json>>,
    following: HashSet<GoalUuid>,
    /// Wakes a goal's thread when something arrives.
    wait: WaitSet,
}

fn uuid_json(uuid: &GoalUuid) -> Json {
    json!({ "uuid": uuid.to_vec() })
}

fn uuid_of(value: &Json) -> Option<GoalUuid> {
    let bytes: Vec<u8> = value["uuid"]
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

impl GraphNode {
    /// The client of action `name` with `type_name`, made on first use.
    pub(super) fn action_client(
        &mut self,
        name: &str,
        type_name: &str,
    ) -> Result<&mut DynActionClient, PublishError> {
        if !self.action_clients.contains_key(name) {
            let action = DynamicAction::load(type_name)?;
            let c_name = CString::new(name).map_err(|_| RclError::Name(name.into()))?;
            // SAFETY: rcl_action's documented client set-up on a boxed (never
            // moved) zero-initialised client of our initialised node.
            let handle = unsafe {
                let mut handle = Box::new(rcla::rcl_action_get_zero_initialized_client());
                let options = rcla::rcl_action_client_get_default_options();
                check(
                    rcla::rcl_action_client_init(
                        handle.as_mut(),
                        self.node.as_mut(),
                        action.support,
                        c_name.as_ptr(),
                        &options,
                    ),
                    "rcl_action_client_init",
                )?;
                handle
            };
            let mut sizes = WaitSizes::default();
            // SAFETY: our initialised client, and counts to write.
            check(
                unsafe {
                    rcla::rcl_action_client_wait_set_get_num_entities(
                        handle.as_ref(),
                        &mut sizes.subscriptions,
                        &mut sizes.guard_conditions,
                        &mut sizes.timers,
                        &mut sizes.clients,
                        &mut sizes.services,
                    )
                },
                "rcl_action_client_wait_set_get_num_entities",
            )?;
            let wait = WaitSet::new(self.context.as_mut(), &sizes)?;
            let client = DynActionClient {
                handle,
                action,
                wait,
                goal_answers: HashMap::new(),
                results: HashMap::new(),
                feedback: HashMap::new(),
                following: HashSet::new(),
            };
            self.action_clients.insert(name.to_owned(), client);
        }
        let client = self.action_clients.get_mut(name).expect("made above");
        if client.action.name != type_name {
            return Err(PublishError::OtherType {
                topic: name.into(),
                was: client.action.name.clone(),
                asked: type_name.into(),
            });
        }
        Ok(client)
    }

    /// Whether action `name`'s server is there.
    pub(super) fn action_available(
        &mut self,
        name: &str,
        type_name: &str,
    ) -> Result<bool, PublishError> {
        let node: *const rcl::rcl_node_t = self.node.as_ref();
        let client = self.action_client(name, type_name)?;
        let mut available = false;
        // SAFETY: our node and client, and a bool to write.
        check(
            unsafe {
                rcla::rcl_action_server_is_available(node, client.handle.as_ref(), &mut available)
            },
            "rcl_action_server_is_available",
        )?;
        Ok(available)
    }

    /// Sends goal `uuid` with `goal`'s fields; its feedback is kept from now.
    /// The request's sequence number, for [`Self::goal_answer`].
    pub(super) fn send_goal(
        &mut self,
        name: &str,
        type_name: &str,
        uuid: GoalUuid,
        goal: &Json,
    ) -> Result<i64, PublishError> {
        let client = self.action_client(name, type_name)?;
        let mut request = client.action.send_goal_request.message();
        request.set_json(&json!({ "goal_id": uuid_json(&uuid) }))?;
        request.set_json(&json!({ "goal": goal })).map_err(|e| {
            // The goal's fields are the caller's; say so without `goal.`.
            match e {
                crate::dynamic::DynamicError::Value { field, why } => {
                    crate::dynamic::DynamicError::Value {
                        field: field.trim_start_matches("goal.").to_owned(),
                        why,
                    }
                }
                e => e,
            }
        })?;
        let mut sequence = 0;
        // SAFETY: a request of the client's own type, alive for the call.
        check(
            unsafe {
                rcla::rcl_action_send_goal_request(
                    client.handle.as_ref(),
                    request.as_ptr(),
                    &mut sequence,
                )
            },
            "rcl_action_send_goal_request",
        )?;
        client.following.insert(uuid);
        Ok(sequence)
    }

    /// Asks for goal `uuid`'s result; the request's sequence number.
    pub(super) fn request_result(
        &mut self,
        name: &str,
        type_name: &str,
        uuid: GoalUuid,
    ) -> Result<i64, PublishError> {
        let client = self.action_client(name, type_name)?;
        let mut request = client.action.get_result_request.message();
        request.set_json(&json!({ "goal_id": uuid_json(&uuid) }))?;
        let mut sequence = 0;
        // SAFETY: a request of the client's own type, alive for the call.
        check(
            unsafe {
                rcla::rcl_action_send_result_request(
                    client.handle.as_ref(),
                    request.as_ptr(),
                    &mut sequence,
                )
            },
            "rcl_action_send_result_request",
        )?;
        Ok(sequence)
    }

    /// Asks the server to cancel goal `uuid` (its answer is not awaited:
    /// the goal's result says how it ended).
    pub(super) fn send_cancel(
        &mut self,
        name: &str,
        type_name: &str,
        uuid: GoalUuid,
    ) -> Result<(), PublishError> {
        let client = self.action_client(name, type_name)?;
        let mut request = client.action.cancel_request.message();
        request.set_json(&json!({ "goal_info": { "goal_id": uuid_json(&uuid) } }))?;
        let mut sequence = 0;
        // SAFETY: a request of the cancel service's type, alive for the call.
        check(
            unsafe {
                rcla::rcl_action_send_cancel_request(
                    client.handle.as_ref(),
                    request.as_ptr(),
                    &mut sequence,
                )
            },
            "rcl_action_send_cancel_request",
        )
        .map_err(Into::into)
    }

    /// Takes everything waiting for action `name`'s client and keeps it
    /// for its goals.
    pub(super) fn take_action(&mut self, name: &str) -> Result<(), PublishError> {
        let Some(client) = self.action_clients.get_mut(name) else {
            return Ok(());
        };
        let failed = rcla::RCL_RET_ACTION_CLIENT_TAKE_FAILED as rcl::rcl_ret_t;
        let handle: *const rcla::rcl_action_client_t = client.handle.as_ref();
        loop {
            let answer = client.action.send_goal_response.message();
            // SAFETY: an all-zero request id is a valid value to write into.
            let mut header: rcl::rmw_request_id_t = unsafe { std::mem::zeroed() };
            // SAFETY: a response of the goal service's type to take into.
            let ret = unsafe {
                rcla::rcl_action_take_goal_response(handle, &mut header, answer.as_ptr())
            };
            if ret == failed {
                break;
            }
            check(ret, "rcl_action_take_goal_response")?;
            let accepted = answer.to_json()["accepted"].as_bool().unwrap_or(false);
            client.goal_answers.insert(header.sequence_number, accepted);
        }
        loop {
            let feedback = client.action.feedback_message.message();
            // SAFETY: a feedback message of the action's type to take into.
            let ret = unsafe { rcla::rcl_action_take_feedback(handle, feedback.as_ptr()) };
            if ret == failed {
                break;
            }
            check(ret, "rcl_action_take_feedback")?;
            let mut value = feedback.to_json();
            if let Some(uuid) = uuid_of(&value["goal_id"]) {
                if client.following.contains(&uuid) {
                    let fields = value["feedback"].take();
                    client.feedback.entry(uuid).or_default().push(fields);
                }
            }
        }
        loop {
            let result = client.action.get_result_response.message();
            // SAFETY: an all-zero request id is a valid value to write into.
            let mut header: rcl::rmw_request_id_t = unsafe { std::mem::zeroed() };
            // SAFETY: a response of the result service's type to take into.
            let ret = unsafe {
                rcla::rcl_action_take_result_response(handle, &mut header, result.as_ptr())
            };
            if ret == failed {
                break;
            }
            check(ret, "rcl_action_take_result_response")?;
            let mut value = result.to_json();
            let status = value["status"].as_i64().unwrap_or(0) as i8;
            let end = GoalEnd {
                status,
                result: value["result"].take(),
            };
            client.results.insert(header.sequence_number, end);
        }
        loop {
            let answer = client.action.cancel_response.message();
            // SAFETY: an all-zero request id is a valid value to write into.
            let mut header: rcl::rmw_request_id_t = unsafe { std::mem::zeroed() };
            // SAFETY: a response of the cancel service's type to take into.
            let ret = unsafe {
                rcla::rcl_action_take_cancel_response(handle, &mut header, answer.as_ptr())
            };
            if ret == failed {
                return Ok(());
            }
            check(ret, "rcl_action_take_cancel_response")?;
        }
    }

    /// Waits up to `timeout` for anything on action `name`'s client.
    pub(super) fn wait_for_action(
        &mut self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<(), RclError> {
        let Some(client) = self.action_clients.get_mut(name) else {
            return Ok(());
        };
        let handle: *const rcla::rcl_action_client_t = client.handle.as_ref();
        client.wait.wait(timeout, |set| {
            // SAFETY: our live action client, added to our wait set.
            unsafe {
                rcla::rcl_action_wait_set_add_action_client(
                    set,
                    handle,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            }
        })
    }

    /// The server's answer to goal request `sequence`, once it came.
    pub(super) fn goal_answer(&mut self, name: &str, sequence: i64) -> Option<bool> {
        self.action_clients
            .get_mut(name)?
            .goal_answers
            .remove(&sequence)
    }

    /// Goal `uuid`'s feedback since the last call.
    pub(super) fn goal_feedback(&mut self, name: &str, uuid: &GoalUuid) -> Vec<Json> {
        self.action_clients
            .get_mut(name)
            .and_then(|c| c.feedback.remove(uuid))
            .unwrap_or_default()
    }

    /// The answer to result request `sequence`, once it came.
    pub(super) fn goal_result(&mut self, name: &str, sequence: i64) -> Option<GoalEnd> {
        self.action_clients.get_mut(name)?.results.remove(&sequence)
    }

    /// Goal `uuid` is over: its feedback is no longer kept.
    pub(super) fn forget_goal(&mut self, name: &str, uuid: &GoalUuid) {
        if let Some(c) = self.action_clients.get_mut(name) {
            c.following.remove(uuid);
            c.feedback.remove(uuid);
        }
    }

    /// Finishes the action clients (before the node).
    pub(super) fn finish_action_clients(&mut self) {
        for c in self.action_clients.values_mut() {
            // SAFETY: initialised in `action_client`, finished once, before the node.
            unsafe { rcla::rcl_action_client_fini(c.handle.as_mut(), self.node.as_mut()) };
        }
        self.action_clients.clear();
    }
}
