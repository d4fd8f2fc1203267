//! Message types at run time: any message type installed under
//! `AMENT_PREFIX_PATH`, read and written through rosidl's C introspection
//! type support (`lib<pkg>__rosidl_typesupport_introspection_c.so`), loaded
//! when first asked for, so a robot's own messages need no rebuild of
//! codeact. The members' descriptions (names, types, offsets, array
//! functions) say where each field lives in the C message; values cross as
//! JSON, as they do for the types compiled in.

use std::alloc::Layout;
use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use r2r_rcl as rcl;
use serde_json::{Map, Number, Value as Json};

/// A message type found at run time.
pub struct DynamicType {
    /// `pkg/msg/Type`.
    name: String,
    /// Its package, folder (`msg`, `srv`) and its type's own name.
    pkg: String,
    interface: String,
    short: String,
    members: *const rcl::rosidl_typesupport_introspection_c__MessageMembers,
    /// The library the description lives in; kept loaded while the type is.
    _library: Arc<libloading::Library>,
}

// SAFETY: the description is immutable data in a library kept loaded.
unsafe impl Send for DynamicType {}
// SAFETY: as above; nothing in it is written after loading.
unsafe impl Sync for DynamicType {}

/// Why a type could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynamicError {
    /// Not `pkg/msg/Type` or `pkg/Type`.
    #[error("{0:?} is not a type name: write pkg/msg/Type (e.g. std_msgs/msg/String), or pkg/srv/Type for a service")]
    Name(String),
    /// No introspection library for the package.
    #[error("no type support for {name}: {library} is in no AMENT_PREFIX_PATH lib folder ({searched}); is the package installed and its setup sourced?")]
    NotInstalled {
        /// The type.
        name: String,
        /// The library looked for.
        library: String,
        /// Where.
        searched: String,
    },
    /// The library lacks the type.
    #[error("{library} has no message type {name}: {why}")]
    NoSuchType {
        /// The type.
        name: String,
        /// The library.
        library: String,
        /// What the loader said.
        why: String,
    },
    /// A value that does not fit its field.
    #[error("{field}: {why}")]
    Value {
        /// The field, dotted (`pose.position.x`).
        field: String,
        /// What is wrong.
        why: String,
    },
}

/// Every type loaded so far, by name.
fn loaded() -> &'static Mutex<HashMap<String, Arc<DynamicType>>> {
    static TYPES: OnceLock<Mutex<HashMap<String, Arc<DynamicType>>>> = OnceLock::new();
    TYPES.get_or_init(Mutex::default)
}

/// The libraries loaded so far, by file name.
fn libraries() -> &'static Mutex<HashMap<String, Arc<libloading::Library>>> {
    static LIBS: OnceLock<Mutex<HashMap<String, Arc<libloading::Library>>>> = OnceLock::new();
    LIBS.get_or_init(Mutex::default)
}

impl DynamicType {
    /// The type `name` (`pkg/msg/Type` or `pkg/Type`), loaded once.
    pub fn load(name: &str) -> Result<Arc<DynamicType>, DynamicError> {
        let parts: Vec<&str> = name.split('/').collect();
        let (pkg, ty) = match parts[..] {
            [pkg, "msg", ty] | [pkg, ty] if !pkg.is_empty() && !ty.is_empty() => (pkg, ty),
            _ => return Err(DynamicError::Name(name.into())),
        };
        Self::load_in(pkg, "msg", ty)
    }

    /// The message type `ty` of `pkg`'s `interface` folder (`msg`, or `srv`
    /// for a service's `X_Request` and `X_Response`).
    fn load_in(pkg: &str, interface: &str, ty: &str) -> Result<Arc<DynamicType>, DynamicError> {
        let full = format!("{pkg}/{interface}/{ty}");
        let mut types = loaded().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = types.get(&full) {
            return Ok(t.clone());
        }
        let library = package_library(pkg, &full, INTROSPECTION)?;
        let symbol = format!(
            "rosidl_typesupport_introspection_c__get_message_type_support_handle__{pkg}__{interface}__{ty}"
        );
        let no_such = |why: String| DynamicError::NoSuchType {
            name: full.clone(),
            library: library_name(pkg, INTROSPECTION),
            why,
        };
        // SAFETY: the symbol is rosidl's generated getter, a C function with
        // no arguments returning the type support handle.
        let handle = unsafe {
            let get: libloading::Symbol<
                unsafe extern "C" fn() -> *const rcl::rosidl_message_type_support_t,
            > = library
                .get(symbol.as_bytes())
                .map_err(|e| no_such(e.to_string()))?;
            get()
        };
        if handle.is_null() {
            return Err(no_such("its type support handle is null".into()));
        }
        // SAFETY: an introspection handle's data is its MessageMembers.
        let members = unsafe { (*handle).data }
            as *const rcl::rosidl_typesupport_introspection_c__MessageMembers;
        let t = Arc::new(DynamicType {
            name: full.clone(),
            pkg: pkg.into(),
            interface: interface.into(),
            short: ty.into(),
            members,
            _library: library,
        });
        types.insert(full, t.clone());
        Ok(t)
    }

    /// `pkg/msg/Type`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type support rcl publishes and subscribes with (rosidl's C
    /// dispatcher, which finds the middleware's own), from the package's
    /// `lib<pkg>__rosidl_typesupport_c.so`.
    pub fn rcl_type_support(
        &self,
    ) -> Result<*const rcl::rosidl_message_type_support_t, DynamicError> {
        dispatcher_handle(
            &self.pkg,
            &self.name,
            &format!(
                "message_type_support_handle__{}__{}__{}",
                self.pkg, self.interface, self.short
            ),
        )
    }

    /// A new message of this type, every field at its default.
    pub fn message(self: &Arc<Self>) -> DynamicMessage {
        // SAFETY: members points at the loaded description.
        let members = unsafe { &*self.members };
        let layout = Layout::from_size_align(members.size_of_.max(1), 16)
            .expect("a message's size makes a layout");
        // SAFETY: a fresh zeroed block of the message's size, then rosidl's
        // own initialisation of every field.
        let ptr = unsafe {
            let ptr = std::alloc::alloc_zeroed(layout);
            assert!(!ptr.is_null(), "out of memory for a {}", self.name);
            if let Some(init) = members.init_function {
                init(
                    ptr.cast(),
                    rcl::rosidl_runtime_c__message_initialization::ROSIDL_RUNTIME_C_MSG_INIT_ALL,
                );
            }
            ptr
        };
        DynamicMessage {
            ty: self.clone(),
            ptr,
            layout,
        }
    }
}

/// A service type found at run time: its request and response types and
/// the type support rcl calls it with.
pub struct DynamicService {
    /// `pkg/srv/Type`.
    pub name: String,
    /// `Type_Request`.
    pub request: Arc<DynamicType>,
    /// `Type_Response`.
    pub response: Arc<DynamicType>,
    /// For rcl (rosidl's C dispatcher).
    pub support: *const rcl::rosidl_service_type_support_t,
}

// SAFETY: the type support is immutable data in a library kept loaded.
unsafe impl Send for DynamicService {}
// SAFETY: as above.
unsafe impl Sync for DynamicService {}

impl DynamicService {
    /// The service type `name` (`pkg/srv/Type`).
    pub fn load(name: &str) -> Result<DynamicService, DynamicError> {
        let parts: Vec<&str> = name.split('/').collect();
        let [pkg, "srv", ty] = parts[..] else {
            return Err(DynamicError::Name(name.into()));
        };
        let request = DynamicType::load_in(pkg, "srv", &format!("{ty}_Request"))?;
        let response = DynamicType::load_in(pkg, "srv", &format!("{ty}_Response"))?;
        let support = dispatcher_handle(
            pkg,
            name,
            &format!("service_type_support_handle__{pkg}__srv__{ty}"),
        )?;
        Ok(DynamicService {
            name: name.into(),
            request,
            response,
            support,
        })
    }
}

/// An action type found at run time: the messages its client sends and
/// takes (rosidl's `X_SendGoal_Request`, `X_FeedbackMessage`, …) and the
/// type support rcl_action makes its client with.
pub struct DynamicAction {
    /// `pkg/action/Type`.
    pub name: String,
    /// `{goal_id, goal}`.
    pub send_goal_request: Arc<DynamicType>,
    /// `{accepted, stamp}`.
    pub send_goal_response: Arc<DynamicType>,
    /// `{goal_id}`.
    pub get_result_request: Arc<DynamicType>,
    /// `{status, result}`.
    pub get_result_response: Arc<DynamicType>,
    /// `{goal_id, feedback}`.
    pub feedback_message: Arc<DynamicType>,
    /// `action_msgs/srv/CancelGoal`'s request and response.
    pub cancel_request: Arc<DynamicType>,
    /// See `cancel_request`.
    pub cancel_response: Arc<DynamicType>,
    /// For rcl_action (rosidl's C dispatcher).
    pub support: *const rcl::rosidl_action_type_support_t,
}

// SAFETY: the type support is immutable data in a library kept loaded.
unsafe impl Send for DynamicAction {}
// SAFETY: as above.
unsafe impl Sync for DynamicAction {}

impl DynamicAction {
    /// The action type `name` (`pkg/action/Type`).
    pub fn load(name: &str) -> Result<DynamicAction, DynamicError> {
        let parts: Vec<&str> = name.split('/').collect();
        let [pkg, "action", ty] = parts[..] else {
            return Err(DynamicError::Name(name.into()));
        };
        let part = |suffix: &str| DynamicType::load_in(pkg, "action", &format!("{ty}_{suffix}"));
        let support = dispatcher_handle(
            pkg,
            name,
            &format!("action_type_support_handle__{pkg}__action__{ty}"),
        )?;
        Ok(DynamicAction {
            name: name.into(),
            send_goal_request: part("SendGoal_Request")?,
            send_goal_response: part("SendGoal_Response")?,
            get_result_request: part("GetResult_Request")?,
            get_result_response: part("GetResult_Response")?,
            feedback_message: part("FeedbackMessage")?,
            cancel_request: DynamicType::load_in("action_msgs", "srv", "CancelGoal_Request")?,
            cancel_response: DynamicType::load_in("action_msgs", "srv", "CancelGoal_Response")?,
            support,
        })
    }
}

/// A type support handle from the package's C dispatcher library
/// (`lib<pkg>__rosidl_typesupport_c.so`): `getter` is the part of the
/// generated getter's name after `rosidl_typesupport_c__get_`.
fn dispatcher_handle<T>(pkg: &str, full: &str, getter: &str) -> Result<*const T, DynamicError> {
    let kind = "rosidl_typesupport_c";
    let library = package_library(pkg, full, kind)?;
    let symbol = format!("{kind}__get_{getter}");
    // SAFETY: rosidl's generated getter, no arguments, returns a handle
    // that lives as long as the library, which stays loaded.
    let handle = unsafe {
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const T> = library
            .get(symbol.as_bytes())
            .map_err(|e| DynamicError::NoSuchType {
                name: full.into(),
                library: library_name(pkg, kind),
                why: e.to_string(),
            })?;
        get()
    };
    if handle.is_null() {
        return Err(DynamicError::NoSuchType {
            name: full.into(),
            library: library_name(pkg, kind),
            why: "its type support handle is null".into(),
        });
    }
    Ok(handle)
}

/// The type support that describes a type's members.
const INTROSPECTION: &str = "rosidl_typesupport_introspection_c";

/// The name of a package's type support library of `kind`.
fn library_name(pkg: &str, kind: &str) -> String {
    format!("lib{pkg}__{kind}.so")
}

/// The package's type support library of `kind`, from the first
/// AMENT_PREFIX_PATH prefix that has it, loaded once.
fn package_library(
    pkg: &str,
    full: &str,
    kind: &str,
) -> Result<Arc<libloading::Library>, DynamicError> {
    let file = library_name(pkg, kind);
    let mut libs = libraries().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = libs.get(&file) {
        return Ok(lib.clone());
    }
    let prefixes: Vec<PathBuf> = std::env::var_os("AMENT_PREFIX_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let found = prefixes
        .iter()
        .map(|p| p.join("lib").join(&file))
        .find(|p| p.is_file());
    let Some(path) = found else {
        return Err(DynamicError::NotInstalled {
            name: full.into(),
            library: file,
            searched: prefixes
                .iter()
                .map(|p| p.join("lib").display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    // SAFETY: a rosidl-generated library; loading it runs no code of ours.
    let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| DynamicError::NoSuchType {
        name: full.into(),
        library: path.display().to_string(),
        why: e.to_string(),
    })?;
    let lib = Arc::new(lib);
    libs.insert(file, lib.clone());
    Ok(lib)
}

/// A message of a [`DynamicType`] in C memory, laid out as rosidl's C
/// code lays it out.
pub struct DynamicMessage {
    ty: Arc<DynamicType>,
    ptr: *mut u8,
    layout: Layout,
}

// SAFETY: the message owns its memory; rosidl's C messages hold no
// thread-bound state.
unsafe impl Send for DynamicMessage {}

impl Drop for DynamicMessage {
    fn drop(&mut self) {
        // SAFETY: initialised by `message`, finalised once here.
        unsafe {
            if let Some(fini) = (*self.ty.members).fini_function {
                fini(self.ptr.cast());
            }
            std::alloc::dealloc(self.ptr, self.layout);
        }
    }
}

impl DynamicMessage {
    /// The message's type.
    pub fn ty(&self) -> &DynamicType {
        &self.ty
    }

    /// The C message, for rcl.
    pub fn as_ptr(&self) -> *mut c_void {
        self.ptr.cast()
    }

    /// The message as JSON: an object per message, arrays for arrays.
    pub fn to_json(&self) -> Json {
        // SAFETY: ptr holds an initialised message of this description.
        unsafe { read_message(self.ty.members, self.ptr) }
    }

    /// Sets the fields `value` names (a JSON object); the others keep their
    /// values. Unknown fields and values that do not fit are errors.
    pub fn set_json(&mut self, value: &Json) -> Result<(), DynamicError> {
        // SAFETY: ptr holds an initialised message of this description.
        unsafe { write_message(self.ty.members, self.ptr, value, "") }
    }
}

type Members = rcl::rosidl_typesupport_introspection_c__MessageMembers;
type Member = rcl::rosidl_typesupport_introspection_c__MessageMember;

/// The members of a description, as a slice.
///
/// # Safety
/// `members` points at a valid description.
unsafe fn members_of<'a>(members: *const Members) -> &'a [Member] {
    let m = unsafe { &*members };
    if m.member_count_ == 0 {
        return &[];
    }
    unsafe { std::slice::from_raw_parts(m.members_, m.member_count_ as usize) }
}

/// A member's name.
///
/// # Safety
/// `member` is a valid description.
unsafe fn name_of(member: &Member) -> String {
    unsafe { CStr::from_ptr(member.name_) }
        .to_string_lossy()
        .into_owned()
}

/// The description of a nested message member.
///
/// # Safety
/// `member` is a MESSAGE member of a loaded description.
unsafe fn nested(member: &Member) -> *const Members {
    unsafe { (*member.members_).data as *const Members }
}

const MESSAGE: u8 = 18;
const STRING: u8 = 16;

/// # Safety
/// `ptr` holds an initialised message described by `members`.
unsafe fn read_message(members: *const Members, ptr: *const u8) -> Json {
    let mut object = Map::new();
    for member in unsafe { members_of(members) } {
        let field = unsafe { ptr.add(member.offset_ as usize) };
        let value = if member.is_array_ {
            let size = member
                .size_function
                .map_or(0, |f| unsafe { f(field.cast()) });
            let get = member.get_const_function;
            Json::Array(
                (0..size)
                    .map(|i| {
                        let item = get.map_or(std::ptr::null(), |g| unsafe { g(field.cast(), i) });
                        unsafe { read_one(member, item.cast()) }
                    })
                    .collect(),
            )
        } else {
            unsafe { read_one(member, field) }
        };
        object.insert(unsafe { name_of(member) }, value);
    }
    Json::Object(object)
}

/// One value of `member`'s type at `ptr`.
///
/// # Safety
/// `ptr` points at a value of the member's type.
unsafe fn read_one(member: &Member, ptr: *const u8) -> Json {
    if ptr.is_null() {
        return Json::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            Json::from(unsafe { ptr.cast::<$t>().read_unaligned() })
        };
    }
    match member.type_id_ {
        1 => Number::from_f64(unsafe { ptr.cast::<f32>().read_unaligned() } as f64)
            .map_or(Json::Null, Json::Number),
        2 => Number::from_f64(unsafe { ptr.cast::<f64>().read_unaligned() })
            .map_or(Json::Null, Json::Number),
        6 => Json::Bool(unsafe { ptr.read() } != 0),
        4 | 7 | 8 => num!(u8),
        9 => num!(i8),
        10 => num!(u16),
        11 => num!(i16),
        12 => num!(u32),
        13 => num!(i32),
        14 => num!(u64),
        15 => num!(i64),
        STRING => {
            let s = unsafe { &*ptr.cast::<rcl::rosidl_runtime_c__String>() };
            if s.data.is_null() {
                Json::String(String::new())
            } else {
                let bytes = unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.size) };
                Json::String(String::from_utf8_lossy(bytes).into_owned())
            }
        }
        MESSAGE => unsafe { read_message(nested(member), ptr) },
        // long double, wchar, wstring: not carried as JSON.
        _ => Json::Null,
    }
}

/// # Safety
/// `ptr` holds an initialised message described by `members`.
unsafe fn write_message(
    members: *const Members,
    ptr: *mut u8,
    value: &Json,
    path: &str,
) -> Result<(), DynamicError> {
    let at = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let Json::Object(object) = value else {
        return Err(DynamicError::Value {
            field: if path.is_empty() {
                "the message".into()
            } else {
                path.into()
            },
            why: format!("expected an object, got {value}"),
        });
    };
    let list = unsafe { members_of(members) };
    let names: Vec<String> = list.iter().map(|m| unsafe { name_of(m) }).collect();
    for (key, v) in object {
        let Some(i) = names.iter().position(|n| n == key) else {
            return Err(DynamicError::Value {
                field: at(key),
                why: format!("no such field; the fields are {}", names.join(", ")),
            });
        };
        let member = &list[i];
        let field = unsafe { ptr.add(member.offset_ as usize) };
        if member.is_array_ {
            unsafe { write_array(member, field, v, &at(key)) }?;
        } else {
            unsafe { write_one(member, field, v, &at(key)) }?;
        }
    }
    Ok(())
}

/// # Safety
/// `field` is the member's array or sequence in an initialised message.
unsafe fn write_array(
    member: &Member,
    field: *mut u8,
    value: &Json,
    path: &str,
) -> Result<(), DynamicError> {
    let bad = |why: String| DynamicError::Value {
        field: path.into(),
        why,
    };
    let Json::Array(items) = value else {
        return Err(bad(format!("expected a list, got {value}")));
    };
    let fixed = member.array_size_ > 0 && !member.is_upper_bound_;
    if fixed && items.len() != member.array_size_ {
        return Err(bad(format!(
            "expected exactly {} items, got {}",
            member.array_size_,
            items.len()
        )));
    }
    if member.is_upper_bound_ && items.len() > member.array_size_ {
        return Err(bad(format!(
            "at most {} items, got {}",
            member.array_size_,
            items.len()
        )));
    }
    if !fixed {
        let resized = member
            .resize_function
            .is_some_and(|f| unsafe { f(field.cast(), items.len()) });
        if !resized {
            return Err(bad(format!("cannot hold {} items", items.len())));
        }
    }
    let get = member
        .get_function
        .ok_or_else(|| bad("its type support cannot reach its items".into()))?;
    for (i, item) in items.iter().enumerate() {
        let slot = unsafe { get(field.cast(), i) }.cast::<u8>();
        unsafe { write_one(member, slot, item, &format!("{path}[{i}]")) }?;
    }
    Ok(())
}

/// Writes one value of `member`'s type at `ptr`.
///
/// # Safety
/// `ptr` points at a value of the member's type in an initialised message.
unsafe fn write_one(
    member: &Member,
    ptr: *mut u8,
    value: &Json,
    path: &str,
) -> Result<(), DynamicError> {
    let bad = |what: &str| DynamicError::Value {
        field: path.into(),
        why: format!("expected {what}, got {value}"),
    };
    macro_rules! int {
        ($t:ty, $what:expr) => {{
            let n = value
                .as_i64()
                .and_then(|n| <$t>::try_from(n).ok())
                .or_else(|| value.as_u64().and_then(|n| <$t>::try_from(n).ok()))
                .ok_or_else(|| bad($what))?;
            unsafe { ptr.cast::<$t>().write_unaligned(n) };
        }};
    }
    match member.type_id_ {
        1 => {
            let f = value.as_f64().ok_or_else(|| bad("a number"))?;
            unsafe { ptr.cast::<f32>().write_unaligned(f as f32) };
        }
        2 => {
            let f = value.as_f64().ok_or_else(|| bad("a number"))?;
            unsafe { ptr.cast::<f64>().write_unaligned(f) };
        }
        6 => {
            let b = value.as_bool().ok_or_else(|| bad("true or false"))?;
            unsafe { ptr.write(b as u8) };
        }
        4 | 7 | 8 => int!(u8, "an integer 0 to 255"),
        9 => int!(i8, "an integer -128 to 127"),
        10 => int!(u16, "an integer 0 to 65535"),
        11 => int!(i16, "an integer -32768 to 32767"),
        12 => int!(u32, "a non-negative 32-bit integer"),
        13 => int!(i32, "a 32-bit integer"),
        14 => int!(u64, "a non-negative integer"),
        15 => int!(i64, "an integer"),
        STRING => {
            let text = value.as_str().ok_or_else(|| bad("a string"))?;
            let c = CString::new(text).map_err(|_| bad("a string without NUL bytes"))?;
            let s = ptr.cast::<rcl::rosidl_runtime_c__String>();
            if member.string_upper_bound_ > 0 && text.len() > member.string_upper_bound_ {
                return Err(bad(&format!(
                    "a string of at most {} bytes",
                    member.string_upper_bound_
                )));
            }
            // SAFETY: an initialised rosidl string, assigned by rosidl.
            if !unsafe { rcl::rosidl_runtime_c__String__assign(s, c.as_ptr()) } {
                return Err(bad("a string that fits in memory"));
            }
        }
        MESSAGE => unsafe { write_message(nested(member), ptr, value, path) }?,
        _ => {
            return Err(DynamicError::Value {
                field: path.into(),
                why: "long double, wchar and wstring fields are not supported".into(),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn installed_types_are_read_and_written_without_being_compiled_in() {
        let ty = DynamicType::load("std_msgs/msg/String").unwrap();
        let mut m = ty.message();
        assert_eq!(m.to_json(), json!({"data": ""}));
        m.set_json(&json!({"data": "héllo"})).unwrap();
        assert_eq!(m.to_json(), json!({"data": "héllo"}));

        // Nested messages, a string, float32 sequences.
        let scan = DynamicType::load("sensor_msgs/LaserScan").unwrap();
        let mut m = scan.message();
        let value = json!({
            "header": {"stamp": {"sec": 12, "nanosec": 500}, "frame_id": "base_scan"},
            "angle_min": -1.5, "range_max": 8.0,
            "ranges": [1.0, 2.5, 0.25], "intensities": []
        });
        m.set_json(&value).unwrap();
        let back = m.to_json();
        assert_eq!(back["header"], value["header"]);
        assert_eq!(back["ranges"], value["ranges"]);
        assert_eq!(back["angle_min"], -1.5);
        assert_eq!(back["time_increment"], 0.0, "defaults stay");

        // A fixed array must have its length; a sequence of messages grows.
        let pose = DynamicType::load("geometry_msgs/msg/PoseWithCovariance").unwrap();
        let mut m = pose.message();
        let e = m.set_json(&json!({"covariance": [1.0, 2.0]})).unwrap_err();
        assert!(e.to_string().contains("exactly 36 items"), "{e}");
        let covariance: Vec<f64> = (0..36).map(f64::from).collect();
        m.set_json(&json!({"pose": {"position": {"x": 1.5}}, "covariance": covariance}))
            .unwrap();
        assert_eq!(m.to_json()["covariance"][35], 35.0);
        assert_eq!(m.to_json()["pose"]["position"]["x"], 1.5);
        assert_eq!(
            m.to_json()["pose"]["orientation"]["w"],
            1.0,
            "rosidl's default"
        );
        let tf = DynamicType::load("tf2_msgs/msg/TFMessage").unwrap();
        let mut m = tf.message();
        let two = json!({"transforms": [{"child_frame_id": "a"}, {"child_frame_id": "b", "transform": {"translation": {"z": 2.0}}}]});
        m.set_json(&two).unwrap();
        let back = m.to_json();
        assert_eq!(back["transforms"][1]["child_frame_id"], "b");
        assert_eq!(back["transforms"][1]["transform"]["translation"]["z"], 2.0);
    }

    /// lifecycle_msgs is installed with the ROS wheels but not built into
    /// this node's r2r (IDL_PACKAGE_FILTER): only the run-time path has it.
    #[test]
    fn a_type_not_built_into_the_node_is_usable() {
        assert!(
            r2r::WrappedNativeMsgUntyped::new_from("lifecycle_msgs/msg/TransitionEvent").is_err()
        );
        let ty = DynamicType::load("lifecycle_msgs/msg/TransitionEvent").unwrap();
        let mut m = ty.message();
        let value = json!({"timestamp": 12345678901u64, "transition": {"id": 3, "label": "activate"},
                           "start_state": {"id": 2, "label": "inactive"}, "goal_state": {"id": 3, "label": "active"}});
        m.set_json(&value).unwrap();
        assert_eq!(m.to_json(), value);
    }

    #[test]
    fn wrong_values_and_missing_types_say_what_is_wrong() {
        let ty = DynamicType::load("sensor_msgs/msg/LaserScan").unwrap();
        let mut m = ty.message();
        let e = m.set_json(&json!({"header": {"frame": "x"}})).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("header.frame: no such field; the fields are stamp, frame_id"),
            "{e}"
        );
        let e = m.set_json(&json!({"ranges": [1.0, "far"]})).unwrap_err();
        assert_eq!(e.to_string(), "ranges[1]: expected a number, got \"far\"");
        let e = m
            .set_json(&json!({"header": {"stamp": {"sec": 1u64 << 40}}}))
            .unwrap_err();
        assert!(e.to_string().contains("a 32-bit integer"), "{e}");
        let e = DynamicType::load("no_such_msgs/msg/Thing")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("libno_such_msgs__rosidl_typesupport_introspection_c.so"),
            "{e}"
        );
        let e = DynamicType::load("std_msgs/msg/NoSuchThing")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("has no message type std_msgs/msg/NoSuchThing"),
            "{e}"
        );
        assert!(DynamicType::load("String").is_err());
    }

    /// The JSON a run-time type gives is the JSON of the type compiled
    /// into r2r, field for field.
    #[test]
    fn the_json_is_that_of_the_compiled_types() {
        let cases = [
            (
                "sensor_msgs/msg/LaserScan",
                json!({"header": {"stamp": {"sec": 3, "nanosec": 7}, "frame_id": "laser"}, "angle_min": -1.5, "angle_increment": 0.25, "ranges": [1.0, 2.5], "intensities": [0.5]}),
            ),
            (
                "geometry_msgs/msg/PoseWithCovariance",
                json!({"pose": {"position": {"x": 1.5, "y": -2.0}}, "covariance": (0..36).map(f64::from).collect::<Vec<_>>()}),
            ),
            (
                "tf2_msgs/msg/TFMessage",
                json!({"transforms": [{"header": {"frame_id": "map"}, "child_frame_id": "base_link", "transform": {"rotation": {"z": 0.5, "w": 0.5}}}]}),
            ),
            (
                "std_msgs/msg/UInt8MultiArray",
                json!({"layout": {"dim": [{"label": "x", "size": 3, "stride": 3}], "data_offset": 0}, "data": [1, 2, 255]}),
            ),
        ];
        for (name, value) in cases {
            let compiled = r2r::WrappedNativeMsgUntyped::new_from(name).unwrap();
            compiled.from_json(value.clone()).unwrap();
            let mut dynamic = DynamicType::load(name).unwrap().message();
            dynamic.set_json(&value).unwrap();
            assert_eq!(dynamic.to_json(), compiled.to_json().unwrap(), "{name}");
        }
    }
}
