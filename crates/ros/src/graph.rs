//! What r2r 0.9 cannot do, through a second rcl node of our own (r2r keeps
//! its node's rcl handle private; `r2r_rcl` is rcl's C API): which services
//! exist, with their types; and topics, services and actions of types r2r
//! was not built with, through their type support loaded at run time
//! ([`crate::dynamic`]; actions in [`action`]).

mod action;

pub use action::{DynGoal, GoalEnd, GoalUuid};

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use r2r_rcl as rcl;
use serde_json::Value as Json;

use crate::dynamic::{DynamicError, DynamicService, DynamicType};

/// An rcl context and node that only query the graph. It is a DDS
/// participant of its own, which must discover the others before it sees
/// them: make it early ([`Graph::start_in_background`]).
pub struct GraphNode {
    context: Box<rcl::rcl_context_t>,
    node: Box<rcl::rcl_node_t>,
    started: Instant,
    /// Publishers of run-time types, by topic.
    publishers: BTreeMap<String, DynPublisher>,
    /// Subscriptions of run-time types, by topic, with their latest message.
    subscriptions: BTreeMap<String, DynSubscription>,
    /// Clients of run-time service types, by service.
    clients: BTreeMap<String, DynClient>,
    /// Clients of run-time action types, by action.
    action_clients: BTreeMap<String, action::DynActionClient>,
}

/// An rcl client of a service type loaded at run time.
struct DynClient {
    handle: Box<rcl::rcl_client_t>,
    service: DynamicService,
    /// Wakes a caller when the answer comes.
    wait: WaitSet,
}

/// An rcl wait set sized for one client or one action client: a caller
/// waiting for an answer wakes when it arrives, not at its next poll.
pub(super) struct WaitSet(Box<rcl::rcl_wait_set_t>);

/// The entities a wait set holds.
#[derive(Default)]
pub(super) struct WaitSizes {
    subscriptions: usize,
    guard_conditions: usize,
    timers: usize,
    clients: usize,
    services: usize,
}

impl WaitSet {
    pub(super) fn new(
        context: &mut rcl::rcl_context_t,
        sizes: &WaitSizes,
    ) -> Result<Self, RclError> {
        // SAFETY: a boxed (never moved) zero-initialised wait set, initialised
        // in our live context; finished in Drop.
        unsafe {
            let mut set = Box::new(rcl::rcl_get_zero_initialized_wait_set());
            check(
                rcl::rcl_wait_set_init(
                    set.as_mut(),
                    sizes.subscriptions,
                    sizes.guard_conditions,
                    sizes.timers,
                    sizes.clients,
                    sizes.services,
                    0,
                    context,
                    rcl::rcutils_get_default_allocator(),
                ),
                "rcl_wait_set_init",
            )?;
            Ok(WaitSet(set))
        }
    }

    /// Waits up to `timeout` for what `fill` adds to become ready.
    pub(super) fn wait(
        &mut self,
        timeout: Duration,
        fill: impl FnOnce(*mut rcl::rcl_wait_set_t) -> rcl::rcl_ret_t,
    ) -> Result<(), RclError> {
        let set: *mut rcl::rcl_wait_set_t = self.0.as_mut();
        // SAFETY: our initialised wait set; `fill` adds live entities of
        // the same context, which the caller keeps alive across the wait.
        unsafe {
            check(rcl::rcl_wait_set_clear(set), "rcl_wait_set_clear")?;
            check(fill(set), "adding to a wait set")?;
            let ret = rcl::rcl_wait(set, timeout.as_nanos() as i64);
            if ret == rcl::RCL_RET_TIMEOUT as rcl::rcl_ret_t {
                rcl::rcutils_reset_error();
                return Ok(());
            }
            check(ret, "rcl_wait")
        }
    }
}

impl Drop for WaitSet {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, finished once.
        unsafe { rcl::rcl_wait_set_fini(self.0.as_mut()) };
    }
}

/// How a call to a service of a run-time type went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The type, the request or rcl.
    #[error("{0}")]
    Setup(#[from] PublishError),
    /// No server answered in time.
    #[error("did not answer within {0:.1} s: is its server running?")]
    Timeout(f64),
    /// The action was stopped.
    #[error("the call was cancelled with the action")]
    Cancelled,
}

/// An rcl subscription of a type loaded at run time.
struct DynSubscription {
    handle: Box<rcl::rcl_subscription_t>,
    ty: Arc<DynamicType>,
    latest: Option<Json>,
}

/// An rcl publisher of a type loaded at run time.
struct DynPublisher {
    handle: Box<rcl::rcl_publisher_t>,
    ty: Arc<DynamicType>,
}

/// Why a message of a run-time type could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The type, or the message for it.
    #[error("{0}")]
    Type(#[from] DynamicError),
    /// rcl refused.
    #[error("{0}")]
    Rcl(#[from] RclError),
    /// The topic already carries another type from this node.
    #[error("{topic} is published as {was} already, not {asked}")]
    OtherType {
        /// The topic.
        topic: String,
        /// The type it is published with.
        was: String,
        /// The type asked for.
        asked: String,
    },
}

/// The longest a caller holds the graph node waiting for an answer before
/// it looks at its cancel token and deadline again.
const ANSWER_WAIT: Duration = Duration::from_millis(2);

/// The graph node's name.
const GRAPH_NODE: &str = "codeact_graph";

/// A graph node made on a thread of its own at start, so discovery runs
/// while the session does other things; the first query waits for it.
#[derive(Clone, Default)]
pub struct Graph(
    std::sync::Arc<std::sync::OnceLock<Result<std::sync::Mutex<GraphNode>, RclError>>>,
);

impl Graph {
    /// Starts making the node now, on a thread of its own, so that it has
    /// discovered the others by the time it is first asked (made anyway on
    /// first use).
    pub fn start_in_background(&self) {
        let g = self.clone();
        let _ = std::thread::Builder::new()
            .name("ros-graph".into())
            .spawn(move || {
                g.node(GRAPH_NODE);
            });
    }

    fn node(&self, name: &str) -> &Result<std::sync::Mutex<GraphNode>, RclError> {
        self.0
            .get_or_init(|| GraphNode::start(name).map(std::sync::Mutex::new))
    }

    /// The node, locked.
    fn locked(&self) -> Result<std::sync::MutexGuard<'_, GraphNode>, PublishError> {
        let node = self.node(GRAPH_NODE).as_ref().map_err(Clone::clone)?;
        Ok(node.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Publishes `message` (JSON) on `topic` as `type_name`, a type loaded
    /// at run time; the first call makes the publisher.
    pub fn publish(
        &self,
        topic: &str,
        type_name: &str,
        message: &Json,
    ) -> Result<(), PublishError> {
        self.locked()?.publish(topic, type_name, message)
    }

    /// The latest message on `topic` as `type_name` (a type loaded at run
    /// time), if one came since the first call subscribed; `None` until then.
    pub fn latest(&self, topic: &str, type_name: &str) -> Result<Option<Json>, PublishError> {
        self.locked()?.latest(topic, type_name)
    }

    /// Calls `service` of the run-time type `type_name` with `request`
    /// (JSON): waits for its server, sends, and takes the answer, within
    /// `timeout`; it holds the graph node at most [`ANSWER_WAIT`] at a time.
    pub fn call(
        &self,
        service: &str,
        type_name: &str,
        request: &Json,
        timeout: Duration,
        cancel: &robot_api::CancelToken,
    ) -> Result<Json, CallError> {
        let deadline = Instant::now() + timeout;
        let mut sequence = None;
        loop {
            if cancel.is_cancelled() {
                return Err(CallError::Cancelled);
            }
            if Instant::now() >= deadline {
                return Err(CallError::Timeout(timeout.as_secs_f64()));
            }
            let mut node = self.locked()?;
            match sequence {
                None => {
                    sequence = node.send_request(service, type_name, request)?;
                    if sequence.is_none() {
                        // No server yet: the node is free while it is looked for.
                        drop(node);
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                Some(ours) => {
                    if let Some(answer) = node.take_response(service, ours)? {
                        return Ok(answer);
                    }
                    node.wait_for_response(service, ANSWER_WAIT)
                        .map_err(PublishError::from)?;
                }
            }
        }
    }

    /// The services on the graph. Within its first seconds, the node waits
    /// for discovery to settle: until the list has stopped growing for a
    /// while after its first service, at most 3 s after it started.
    pub fn services(&self) -> Result<BTreeMap<String, Vec<String>>, RclError> {
        let node = self.node(GRAPH_NODE).as_ref().map_err(Clone::clone)?;
        let node = node.lock().unwrap_or_else(|e| e.into_inner());
        node.settled_services(Duration::from_millis(400), Duration::from_secs(3))
    }
}

/// Action goals of run-time types, one step per call (see [`action`]).
impl Graph {
    /// Makes the client of action `name` now, so a type that cannot be
    /// loaded is found at start.
    pub fn prepare_action(&self, name: &str, type_name: &str) -> Result<(), PublishError> {
        self.locked()?.action_client(name, type_name).map(|_| ())
    }

    /// Makes the client of `service` now, so a type that cannot be loaded
    /// is found at start.
    pub fn prepare_service(&self, service: &str, type_name: &str) -> Result<(), PublishError> {
        self.locked()?
            .service_client(service, type_name)
            .map(|_| ())
    }

    /// Whether action `name`'s server is there.
    pub fn action_available(&self, name: &str, type_name: &str) -> Result<bool, PublishError> {
        self.locked()?.action_available(name, type_name)
    }

    /// Sends goal `uuid`; the request's sequence number for [`Self::goal_answer`].
    pub fn send_goal(
        &self,
        name: &str,
        type_name: &str,
        uuid: GoalUuid,
        goal: &Json,
    ) -> Result<i64, PublishError> {
        self.locked()?.send_goal(name, type_name, uuid, goal)
    }

    /// Whether the server accepted the goal of request `sequence`, once it answered.
    pub fn goal_answer(&self, name: &str, sequence: i64) -> Result<Option<bool>, PublishError> {
        let mut node = self.locked()?;
        node.take_action(name)?;
        Ok(node.goal_answer(name, sequence))
    }

    /// Asks for goal `uuid`'s result; the request's sequence number.
    pub fn request_result(
        &self,
        name: &str,
        type_name: &str,
        uuid: GoalUuid,
    ) -> Result<i64, PublishError> {
        self.locked()?.request_result(name, type_name, uuid)
    }

    /// Goal `uuid`'s feedback since the last call, and how it ended once
    /// the answer to result request `sequence` came.
    pub fn goal_progress(
        &self,
        name: &str,
        uuid: &GoalUuid,
        sequence: i64,
    ) -> Result<(Vec<Json>, Option<GoalEnd>), PublishError> {
        let mut node = self.locked()?;
        node.take_action(name)?;
        Ok((
            node.goal_feedback(name, uuid),
            node.goal_result(name, sequence),
        ))
    }

    /// Asks the server to cancel `goal`.
    pub fn cancel_goal(&self, goal: &DynGoal) -> Result<(), PublishError> {
        self.locked()?
            .send_cancel(&goal.action, &goal.type_name, goal.uuid)
    }

    /// Waits up to `timeout` for anything on action `name`'s client (an
    /// answer, feedback, a result), holding the graph node meanwhile.
    pub fn wait_for_goal(&self, name: &str, timeout: Duration) -> Result<(), PublishError> {
        Ok(self.locked()?.wait_for_action(name, timeout)?)
    }

    /// Goal `uuid` is over: its feedback is no longer kept.
    pub fn forget_goal(&self, name: &str, uuid: &GoalUuid) {
        if let Ok(mut node) = self.locked() {
            node.forget_goal(name, uuid);
        }
    }
}

// SAFETY: the handles are used by one thread at a time (the owner keeps the
// node behind a mutex), which rcl allows for a node and its context.
unsafe impl Send for GraphNode {}

/// An rcl call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RclError {
    /// The call and its return code.
    #[error("{call} failed (rcl error {code})")]
    Call {
        /// The rcl function.
        call: &'static str,
        /// What it returned.
        code: i32,
    },
    /// A node name with a NUL byte in it.
    #[error("the node name {0:?} has a NUL byte in it")]
    Name(String),
}

fn check(ret: rcl::rcl_ret_t, call: &'static str) -> Result<(), RclError> {
    if ret == rcl::RCL_RET_OK as rcl::rcl_ret_t {
        Ok(())
    } else {
        // SAFETY: resets rcl's thread-local error state, which we report ourselves.
        unsafe { rcl::rcutils_reset_error() };
        Err(RclError::Call { call, code: ret })
    }
}

impl GraphNode {
    /// Starts the node `name` in the domain the environment sets.
    pub fn start(name: &str) -> Result<Self, RclError> {
        let name = CString::new(name).map_err(|_| RclError::Name(name.into()))?;
        // SAFETY: rcl's documented init sequence on zero-initialised, boxed
        // (so never moved) structures; each call's result is checked.
        unsafe {
            let mut options = rcl::rcl_get_zero_initialized_init_options();
            check(
                rcl::rcl_init_options_init(&mut options, rcl::rcutils_get_default_allocator()),
                "rcl_init_options_init",
            )?;
            let mut context = Box::new(rcl::rcl_get_zero_initialized_context());
            let ret = rcl::rcl_init(0, std::ptr::null(), &options, context.as_mut());
            rcl::rcl_init_options_fini(&mut options);
            check(ret, "rcl_init")?;
            let mut node = Box::new(rcl::rcl_get_zero_initialized_node());
            let mut node_options = rcl::rcl_node_get_default_options();
            node_options.enable_rosout = false;
            let ret = rcl::rcl_node_init(
                node.as_mut(),
                name.as_ptr(),
                c"".as_ptr(),
                context.as_mut(),
                &node_options,
            );
            rcl::rcl_node_options_fini(&mut node_options);
            if let Err(e) = check(ret, "rcl_node_init") {
                rcl::rcl_shutdown(context.as_mut());
                rcl::rcl_context_fini(context.as_mut());
                return Err(e);
            }
            Ok(GraphNode {
                context,
                node,
                started: Instant::now(),
                publishers: BTreeMap::new(),
                subscriptions: BTreeMap::new(),
                clients: BTreeMap::new(),
                action_clients: BTreeMap::new(),
            })
        }
    }

    /// Every service visible now: name → types.
    pub fn services(&self) -> Result<BTreeMap<String, Vec<String>>, RclError> {
        // SAFETY: a zero-initialised names-and-types filled by rcl, read within
        // the sizes it reports, then freed by rmw.
        unsafe {
            let mut found = rcl::rmw_get_zero_initialized_names_and_types();
            let mut allocator = rcl::rcutils_get_default_allocator();
            check(
                rcl::rcl_get_service_names_and_types(
                    self.node.as_ref(),
                    &mut allocator,
                    &mut found,
                ),
                "listing services",
            )?;
            let mut services = BTreeMap::new();
            let size = found.names.size;
            if size > 0 && !found.names.data.is_null() && !found.types.is_null() {
                let names = std::slice::from_raw_parts(found.names.data, size);
                let types = std::slice::from_raw_parts(found.types, size);
                for (name, types) in names.iter().zip(types) {
                    let kinds = if types.data.is_null() {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(types.data, types.size)
                    };
                    services.insert(
                        CStr::from_ptr(*name).to_string_lossy().into_owned(),
                        kinds
                            .iter()
                            .map(|t| CStr::from_ptr(*t).to_string_lossy().into_owned())
                            .collect(),
                    );
                }
            }
            rcl::rmw_names_and_types_fini(&mut found);
            Ok(services)
        }
    }

    /// The services, once discovery has settled: while the node is younger
    /// than `limit`, the list is read until it is not empty and has not
    /// changed for `quiet`.
    pub fn settled_services(
        &self,
        quiet: Duration,
        limit: Duration,
    ) -> Result<BTreeMap<String, Vec<String>>, RclError> {
        let mut seen = self.services()?;
        let mut changed = Instant::now();
        while self.started.elapsed() < limit && (seen.is_empty() || changed.elapsed() < quiet) {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.services()?;
            if now.len() != seen.len() {
                changed = Instant::now();
            }
            seen = now;
        }
        Ok(seen)
    }
}

impl GraphNode {
    /// Publishes `message` on `topic` as `type_name` (see [`Graph::publish`]).
    fn publish(
        &mut self,
        topic: &str,
        type_name: &str,
        message: &Json,
    ) -> Result<(), PublishError> {
        let ty = DynamicType::load(type_name)?;
        if !self.publishers.contains_key(topic) {
            let support = ty.rcl_type_support()?;
            let name = CString::new(topic).map_err(|_| RclError::Name(topic.into()))?;
            // SAFETY: rcl's documented publisher set-up on a boxed (never
            // moved) zero-initialised publisher of our initialised node.
            let handle = unsafe {
                let mut handle = Box::new(rcl::rcl_get_zero_initialized_publisher());
                let options = rcl::rcl_publisher_get_default_options();
                check(
                    rcl::rcl_publisher_init(
                        handle.as_mut(),
                        self.node.as_ref(),
                        support,
                        name.as_ptr(),
                        &options,
                    ),
                    "rcl_publisher_init",
                )?;
                handle
            };
            self.publishers.insert(
                topic.to_owned(),
                DynPublisher {
                    handle,
                    ty: ty.clone(),
                },
            );
        }
        let publisher = &self.publishers[topic];
        if publisher.ty.name() != ty.name() {
            return Err(PublishError::OtherType {
                topic: topic.into(),
                was: publisher.ty.name().into(),
                asked: ty.name().into(),
            });
        }
        let mut msg = publisher.ty.message();
        msg.set_json(message)?;
        // SAFETY: a message of the publisher's own type, alive for the call.
        check(
            unsafe {
                rcl::rcl_publish(
                    publisher.handle.as_ref(),
                    msg.as_ptr(),
                    std::ptr::null_mut(),
                )
            },
            "rcl_publish",
        )?;
        Ok(())
    }
}

impl GraphNode {
    /// See [`Graph::latest`]: subscribes on the first call (best effort, so
    /// that reliable and best-effort publishers alike reach it), then takes
    /// what arrived and keeps the last.
    fn latest(&mut self, topic: &str, type_name: &str) -> Result<Option<Json>, PublishError> {
        let ty = DynamicType::load(type_name)?;
        if !self.subscriptions.contains_key(topic) {
            let support = ty.rcl_type_support()?;
            let name = CString::new(topic).map_err(|_| RclError::Name(topic.into()))?;
            // SAFETY: rcl's documented subscription set-up on a boxed (never
            // moved) zero-initialised subscription of our initialised node.
            let handle = unsafe {
                let mut handle = Box::new(rcl::rcl_get_zero_initialized_subscription());
                let mut options = rcl::rcl_subscription_get_default_options();
                options.qos.reliability =
                    rcl::rmw_qos_reliability_policy_e::RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT;
                check(
                    rcl::rcl_subscription_init(
                        handle.as_mut(),
                        self.node.as_ref(),
                        support,
                        name.as_ptr(),
                        &options,
                    ),
                    "rcl_subscription_init",
                )?;
                handle
            };
            let sub = DynSubscription {
                handle,
                ty: ty.clone(),
                latest: None,
            };
            self.subscriptions.insert(topic.to_owned(), sub);
        }
        let sub = self.subscriptions.get_mut(topic).expect("made above");
        if sub.ty.name() != ty.name() {
            return Err(PublishError::OtherType {
                topic: topic.into(),
                was: sub.ty.name().into(),
                asked: ty.name().into(),
            });
        }
        loop {
            let msg = sub.ty.message();
            // SAFETY: a message of the subscription's own type to take into.
            let ret = unsafe {
                rcl::rcl_take(
                    sub.handle.as_ref(),
                    msg.as_ptr(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if ret == rcl::RCL_RET_SUBSCRIPTION_TAKE_FAILED as rcl::rcl_ret_t {
                return Ok(sub.latest.clone());
            }
            check(ret, "rcl_take")?;
            sub.latest = Some(msg.to_json());
        }
    }
}

impl GraphNode {
    /// The client of `service` with `type_name`, made on first use.
    fn service_client(
        &mut self,
        service: &str,
        type_name: &str,
    ) -> Result<&DynClient, PublishError> {
        if !self.clients.contains_key(service) {
            let loaded = DynamicService::load(type_name)?;
            let name = CString::new(service).map_err(|_| RclError::Name(service.into()))?;
            // SAFETY: rcl's documented client set-up on a boxed (never moved)
            // zero-initialised client of our initialised node.
            let handle = unsafe {
                let mut handle = Box::new(rcl::rcl_get_zero_initialized_client());
                let options = rcl::rcl_client_get_default_options();
                check(
                    rcl::rcl_client_init(
                        handle.as_mut(),
                        self.node.as_ref(),
                        loaded.support,
                        name.as_ptr(),
                        &options,
                    ),
                    "rcl_client_init",
                )?;
                handle
            };
            let sizes = WaitSizes {
                clients: 1,
                ..WaitSizes::default()
            };
            let client = DynClient {
                handle,
                service: loaded,
                wait: WaitSet::new(self.context.as_mut(), &sizes)?,
            };
            self.clients.insert(service.to_owned(), client);
        }
        let client = &self.clients[service];
        if client.service.name != type_name {
            return Err(PublishError::OtherType {
                topic: service.into(),
                was: client.service.name.clone(),
                asked: type_name.into(),
            });
        }
        Ok(client)
    }

    /// Sends `request` to `service` once its server is there: the request's
    /// sequence number, or `None` while no server is available yet.
    fn send_request(
        &mut self,
        service: &str,
        type_name: &str,
        request: &Json,
    ) -> Result<Option<i64>, PublishError> {
        let node: *const rcl::rcl_node_t = self.node.as_ref();
        let client = self.service_client(service, type_name)?;
        let mut available = false;
        // SAFETY: our node and client, and a bool to write.
        check(
            unsafe {
                rcl::rcl_service_server_is_available(node, client.handle.as_ref(), &mut available)
            },
            "rcl_service_server_is_available",
        )?;
        if !available {
            return Ok(None);
        }
        let mut message = client.service.request.message();
        message.set_json(request)?;
        let mut sequence = 0i64;
        // SAFETY: a request of the client's own type, alive for the call.
        check(
            unsafe {
                rcl::rcl_send_request(client.handle.as_ref(), message.as_ptr(), &mut sequence)
            },
            "rcl_send_request",
        )?;
        Ok(Some(sequence))
    }

    /// Waits up to `timeout` for an answer on `service`'s client.
    fn wait_for_response(&mut self, service: &str, timeout: Duration) -> Result<(), RclError> {
        let Some(client) = self.clients.get_mut(service) else {
            return Ok(());
        };
        let handle: *const rcl::rcl_client_t = client.handle.as_ref();
        client.wait.wait(timeout, |set| {
            // SAFETY: our live client, added to our wait set.
            unsafe { rcl::rcl_wait_set_add_client(set, handle, std::ptr::null_mut()) }
        })
    }

    /// The answer to request `ours` of `service`, if it came; answers to
    /// earlier requests (calls that gave up) are dropped.
    fn take_response(&mut self, service: &str, ours: i64) -> Result<Option<Json>, PublishError> {
        let client = &self.clients[service];
        loop {
            let response = client.service.response.message();
            // SAFETY: an all-zero request id is a valid value to write into.
            let mut header: rcl::rmw_request_id_t = unsafe { std::mem::zeroed() };
            // SAFETY: a response of the client's own type to take into.
            let ret = unsafe {
                rcl::rcl_take_response(client.handle.as_ref(), &mut header, response.as_ptr())
            };
            if ret == rcl::RCL_RET_CLIENT_TAKE_FAILED as rcl::rcl_ret_t {
                return Ok(None);
            }
            check(ret, "rcl_take_response")?;
            if header.sequence_number == ours {
                return Ok(Some(response.to_json()));
            }
        }
    }
}

impl Drop for GraphNode {
    fn drop(&mut self) {
        self.finish_action_clients();
        // SAFETY: the node and context were initialised in `start` and are
        // finished once, node first.
        unsafe {
            for p in self.publishers.values_mut() {
                rcl::rcl_publisher_fini(p.handle.as_mut(), self.node.as_mut());
            }
            for s in self.subscriptions.values_mut() {
                rcl::rcl_subscription_fini(s.handle.as_mut(), self.node.as_mut());
            }
            for c in self.clients.values_mut() {
                rcl::rcl_client_fini(c.handle.as_mut(), self.node.as_mut());
            }
            // Their wait sets, while the context lives.
            self.clients.clear();
            rcl::rcl_node_fini(self.node.as_mut());
            rcl::rcl_shutdown(self.context.as_mut());
            rcl::rcl_context_fini(self.context.as_mut());
        }
    }
}
