//! How static types relate: whether two can ever hold equal values, and the least type holding
//! the values of both (the branches of an `if`, a step and its fallback, the items of a list).

use std::collections::BTreeMap;

use crate::types::{Field, Type};

/// Whether values of these types can ever be equal.
pub(crate) fn comparable(a: &Type, b: &Type) -> bool {
    let (a, b) = (a.strip_optional(), b.strip_optional());
    matches!(a, Type::Null | Type::Any)
        || matches!(b, Type::Null | Type::Any)
        || a.assignable_to(b)
        || b.assignable_to(a)
        || matches!(
            (a, b),
            (Type::Record { .. }, Type::Record { .. }) | (Type::List { .. }, Type::List { .. })
        )
}

/// The least type holding values of both (e.g. the branches of an `if`).
pub(crate) fn join(a: &Type, b: &Type) -> Type {
    use Type as T;
    match (a, b) {
        _ if a == b => a.clone(),
        (T::Any, _) | (_, T::Any) => T::Any,
        (T::Null, other) | (other, T::Null) => Type::optional(other.clone()),
        (T::Optional { of }, other) | (other, T::Optional { of }) => Type::optional(join(of, other)),
        (T::Email, T::Text) | (T::Text, T::Email) => T::Text,
        (T::Date, T::Datetime) | (T::Datetime, T::Date) => T::Datetime,
        (T::List { of: x }, T::List { of: y }) => Type::list(join(x, y)),
        (T::Record { fields: fa, open: oa }, T::Record { fields: fb, open: ob }) => {
            let mut fields = BTreeMap::new();
            for (name, f) in fa {
                match fb.get(name) {
                    Some(g) => fields.insert(
                        name.clone(),
                        Field {
                            ty: join(&f.ty, &g.ty),
                            optional: f.optional || g.optional,
                        },
                    ),
                    None => fields.insert(
                        name.clone(),
                        Field {
                            ty: f.ty.clone(),
                            optional: true,
                        },
                    ),
                };
            }
            for (name, g) in fb {
                fields.entry(name.clone()).or_insert(Field {
                    ty: g.ty.clone(),
                    optional: true,
                });
            }
            T::Record {
                fields,
                open: *oa || *ob,
            }
        }
        _ => T::Any,
    }
}
